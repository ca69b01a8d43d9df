'use strict';
// Renders a kustomize overlay with every kubectl given and checks the result:
//
//   node check-manifests.js --modules DIR --chorus BIN --rules deploy/prometheus
//        --overlay deploy/kubernetes/overlays/production --kubectl K1 [--kubectl K2]
//        [--require KIND]... [--self-test]
//
// - each renderer must succeed, and all must give the same objects (up to
//   the hash suffix of generated ConfigMap names, which kustomize v2 and v5
//   compute differently, and empty label or annotation maps);
// - every object passes the schema validation of schema.js, strict about
//   unknown fields;
// - the objects fit together and fit chorus (see checkConsistency);
// - --self-test: the validators must also reject broken copies of the
//   objects (a misspelt field, a wrong type, a missing required field).
//
// Any failure prints what is wrong and exits 1; a missing tool too.
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { createRequire } = require('module');
const schema = require('./schema');

function parseArgs(argv) {
  const opts = { kubectl: [], require: [], selfTest: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--self-test') opts.selfTest = true;
    else if (a === '--kubectl' || a === '--require') opts[a.slice(2)].push(argv[++i]);
    else if (['--modules', '--chorus', '--rules', '--overlay'].includes(a)) opts[a.slice(2)] = argv[++i];
    else throw new Error(`unknown argument ${a}`);
  }
  for (const k of ['modules', 'chorus', 'rules', 'overlay']) {
    if (!opts[k]) throw new Error(`--${k} is required`);
  }
  if (opts.kubectl.length === 0) throw new Error('at least one --kubectl is required');
  return opts;
}

const failures = [];
function check(ok, message) {
  if (!ok) failures.push(message);
  return ok;
}

function requireTool(file, what) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
  } catch (e) {
    throw new Error(`${what} ${file} is missing (bash .ci/build installs it)`);
  }
}

// ---- rendering -------------------------------------------------------------

function render(YAML, kubectl, overlay) {
  const version = execFileSync(kubectl, ['version', '--client'], { encoding: 'utf8' });
  const label = `${kubectl} (${(/v\d+\.\d+\.\d+/.exec(version) || ['?'])[0]})`;
  let text;
  try {
    text = execFileSync(kubectl, ['kustomize', overlay], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`${label} kustomize ${overlay} failed:\n${e.stderr || e.message}`);
  }
  const objects = [];
  for (const doc of YAML.parseAllDocuments(text)) {
    if (doc.errors.length) throw new Error(`${label}: output is not YAML: ${doc.errors[0].message}`);
    const obj = doc.toJS();
    if (obj !== null) objects.push(obj);
  }
  return { label, objects };
}

// The objects with generated names' hash suffixes masked and empty label
// and annotation maps dropped, sorted by kind and name.
function normalize(objects) {
  let text = JSON.stringify(objects);
  for (const o of objects) {
    const m = (o.kind === 'ConfigMap' || o.kind === 'Secret') && /^(.*)-[a-z0-9]{10}$/.exec(o.metadata.name);
    if (m) text = text.split(JSON.stringify(o.metadata.name)).join(JSON.stringify(`${m[1]}-<hash>`));
  }
  const result = JSON.parse(text);
  for (const o of result) {
    for (const k of ['labels', 'annotations']) {
      if (o.metadata && o.metadata[k] && Object.keys(o.metadata[k]).length === 0) delete o.metadata[k];
    }
  }
  const key = (o) => `${o.kind}/${o.metadata.name}`;
  return result.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

// The first path at which a and b differ, or null.
function firstDifference(a, b, where = '') {
  if (typeof a !== typeof b || Array.isArray(a) !== Array.isArray(b) || (a === null) !== (b === null)) {
    return `${where || '/'}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
  }
  if (a === null || typeof a !== 'object') return a === b ? null : `${where || '/'}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of [...keys].sort()) {
    const d = firstDifference(a[k], b[k], `${where}/${k}`);
    if (d) return d;
  }
  return null;
}

// ---- consistency ------------------------------------------------------------

function matches(selector, labels) {
  return Object.entries(selector || {}).every(([k, v]) => (labels || {})[k] === v);
}

// The flags `chorus SUBCOMMAND --help` lists (and --config, a top-level one).
function chorusFlags(chorus, sub) {
  const help = execFileSync(chorus, [sub, '--help'], { encoding: 'utf8' });
  return new Set(['--config', ...(help.match(/--[a-z][a-z-]*/g) || [])]);
}

function checkSecurity(pod, container) {
  const psc = pod.securityContext || {};
  check(psc.runAsNonRoot === true, 'pod securityContext.runAsNonRoot must be true');
  check(psc.runAsUser === 10001 && psc.runAsGroup === 10001, "pod must run as the image's user chorus, uid and gid 10001");
  check(psc.fsGroup === 10001, 'pod securityContext.fsGroup must be 10001 so the state volume is writable');
  check((psc.seccompProfile || {}).type === 'RuntimeDefault', 'pod seccompProfile must be RuntimeDefault');
  const csc = container.securityContext || {};
  check(csc.allowPrivilegeEscalation === false, 'container allowPrivilegeEscalation must be false');
  check(csc.readOnlyRootFilesystem === true, 'container readOnlyRootFilesystem must be true');
  check(((csc.capabilities || {}).drop || []).includes('ALL'), 'container must drop ALL capabilities');
  check(!(csc.capabilities || {}).add, 'container must add no capabilities');
  check(csc.privileged !== true, 'container must not be privileged');
  const r = container.resources || {};
  for (const kind of ['requests', 'limits']) {
    for (const res of ['cpu', 'memory']) check((r[kind] || {})[res] !== undefined, `container resources.${kind}.${res} missing`);
  }
  check(container.image !== 'chorus:latest', "the overlay must set the image (images:), not keep the base's chorus:latest");
}

function checkProbes(container) {
  const ports = new Set((container.ports || []).map((p) => p.name));
  const probes = { startupProbe: '/healthz', livenessProbe: '/healthz', readinessProbe: '/readyz' };
  for (const [probe, wanted] of Object.entries(probes)) {
    const get = (container[probe] || {}).httpGet;
    if (!check(get, `container ${probe} must be an httpGet probe`)) continue;
    check(get.path === wanted, `${probe} must ask ${wanted}, not ${get.path}`);
    check(ports.has(get.port), `${probe} port ${get.port} is not a named container port`);
  }
}

// Every $(VAR) in args must be defined in env: Kubernetes leaves an
// undefined reference as literal text, which chorus would take as a value.
function checkArgsEnv(container) {
  const env = new Map((container.env || []).map((e) => [e.name, e]));
  for (const arg of container.args || []) {
    for (const [, name] of arg.matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
      check(env.has(name), `arg ${arg} refers to $(${name}), which is not in the container's env`);
    }
    // --kafka-from-env=key=VAR reads VAR when chorus starts: it must be in
    // the env, and a credential's must come from a Secret.
    const fromEnv = /^--kafka-from-env=([^=]+)=(.*)$/.exec(arg);
    if (fromEnv) {
      const e = env.get(fromEnv[2]);
      check(e, `arg ${arg} names ${fromEnv[2]}, which is not in the container's env`);
      if (/password|secret|token/.test(fromEnv[1])) {
        check(e && e.valueFrom && e.valueFrom.secretKeyRef, `${fromEnv[1]} must come from a Secret (valueFrom.secretKeyRef)`);
      }
      continue;
    }
    // Secrets only by reference: a password or key in an arg must be a
    // $(VAR) whose value comes from a Secret.
    const secret = /^(?:-X|--kafka=)?([a-z.]*(?:password|secret|token)[a-z.]*)=(.*)$/.exec(arg);
    if (secret) {
      const ref = /^\$\(([A-Za-z0-9_]+)\)$/.exec(secret[2]);
      const e = ref && env.get(ref[1]);
      check(e && e.valueFrom && e.valueFrom.secretKeyRef, `${secret[1]} must come from a Secret through env, not be inline`);
    }
  }
  for (const e of container.env || []) {
    if (/PASSWORD|SECRET|TOKEN/.test(e.name)) {
      check(e.valueFrom && e.valueFrom.secretKeyRef, `env ${e.name} must come from a Secret (valueFrom.secretKeyRef)`);
    }
  }
}

// The config file the args name: a key of a mounted ConfigMap in the render.
function configFile(YAML, objects, pod, container) {
  const arg = (container.args || []).find((a) => a.startsWith('--config='));
  if (!check(arg, 'chorus run must be given --config=FILE')) return null;
  const file = arg.slice('--config='.length);
  const mount = (container.volumeMounts || []).find((m) => path.dirname(file) === m.mountPath);
  if (!check(mount, `--config ${file}: no volume is mounted at ${path.dirname(file)}`)) return null;
  const volume = (pod.volumes || []).find((v) => v.name === mount.name);
  const cmName = volume && volume.configMap && volume.configMap.name;
  const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === cmName);
  if (!check(cm, `--config ${file}: volume ${mount.name} is not a ConfigMap of the render`)) return null;
  const text = (cm.data || {})[path.basename(file)];
  if (!check(text !== undefined, `ConfigMap ${cmName} has no key ${path.basename(file)}`)) return null;
  return YAML.parse(text);
}

function checkRun(YAML, objects, pod, container, flags) {
  const args = container.args;
  const config = configFile(YAML, objects, pod, container);
  if (config) {
    for (const key of Object.keys(config)) check(flags.has(`--${key}`), `config file key ${key} is not a flag of chorus run`);
    check(config.brokers && config.topic, 'config file must name brokers and topic');
    // chorus merges the file's kafka: mapping with the args' -X key by key;
    // credentials never sit in a ConfigMap.
    if ('kafka' in config) {
      const kafka = config.kafka;
      check(kafka && typeof kafka === 'object' && !Array.isArray(kafka), 'config file kafka: must be a mapping of librdkafka properties');
      for (const key of Object.keys(kafka || {})) {
        check(!/password|secret|token/.test(key), `config file kafka: ${key} is a credential: take it from a Secret`);
      }
    }
    check(/^\/var\/lib\/chorus\/./.test(config['state-dir'] || ''), 'state-dir must be a directory under /var/lib/chorus');
    check(/^0\.0\.0\.0:/.test(config['http-addr'] || ''), 'http-addr must listen on 0.0.0.0 in a pod');
  }
  check(args.includes('--kafka=group.instance.id=$(POD_NAME)'), 'args must set group.instance.id from the pod name');
  const pod_name = (container.env || []).find((e) => e.name === 'POD_NAME');
  check(pod_name && ((pod_name.valueFrom || {}).fieldRef || {}).fieldPath === 'metadata.name', 'POD_NAME must come from metadata.name');
  const session = args.map((a) => /^--kafka=session\.timeout\.ms=(\d+)$/.exec(a)).find(Boolean);
  check(session && +session[1] >= 45000 && +session[1] <= 60000, 'session.timeout.ms must be set, 45-60 s, to fit a restart');
}

function checkDemo(container) {
  const args = container.args;
  const http = args.map((a) => /^--http-addr=0\.0\.0\.0:(\d+)$/.exec(a)).find(Boolean);
  check(http, 'chorus demo must listen on 0.0.0.0 (--http-addr=0.0.0.0:PORT)');
  check(http && (container.ports || []).some((p) => p.containerPort === +http[1]), 'the demo listens on a port the container does not declare');
  check(args.some((a) => /^--state-dir=\/var\/lib\/chorus\/./.test(a)), 'chorus demo needs --state-dir under /var/lib/chorus');
  check(!args.some((a) => a.startsWith('--kafka') || a.startsWith('-X')), 'chorus demo takes no Kafka properties');
}

function checkServices(objects, sts, pod, container) {
  const podLabels = pod.metadata.labels;
  const services = objects.filter((o) => o.kind === 'Service');
  const ports = new Set((container.ports || []).map((p) => p.name));
  for (const svc of services) {
    check(matches(svc.spec.selector, podLabels), `Service ${svc.metadata.name} does not select chorus's pods`);
    for (const p of svc.spec.ports || []) {
      check(ports.has(p.targetPort) || (container.ports || []).some((c) => c.containerPort === p.targetPort), `Service ${svc.metadata.name} targets port ${p.targetPort}, which the container does not have`);
    }
  }
  const headless = services.find((s) => s.metadata.name === sts.spec.serviceName);
  check(headless && headless.spec.clusterIP === 'None', `StatefulSet serviceName ${sts.spec.serviceName} must be a headless Service of the render`);
  check(matches(sts.spec.selector.matchLabels, podLabels), 'StatefulSet selector does not match its pod template');
  const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget');
  check(pdbs.length === 1 && matches(pdbs[0].spec.selector.matchLabels, podLabels), 'one PodDisruptionBudget must cover chorus\'s pods');
  for (const v of pod.volumes || []) {
    if (v.configMap) check(objects.some((o) => o.kind === 'ConfigMap' && o.metadata.name === v.configMap.name), `volume ${v.name} refers to ConfigMap ${v.configMap.name}, which is not in the render`);
  }
  check(objects.every((o) => o.kind !== 'Secret'), 'the render must hold no Secret: credentials are created apart and referenced');
}

// The ServiceMonitor scrapes the metrics Service with the job name the alert
// rules expect, and the PrometheusRule holds exactly deploy/prometheus's
// groups.
function checkMonitoring(YAML, objects, rulesDir) {
  const services = objects.filter((o) => o.kind === 'Service');
  const monitors = objects.filter((o) => o.kind === 'ServiceMonitor');
  const rules = objects.filter((o) => o.kind === 'PrometheusRule');
  let job = null;
  for (const sm of monitors) {
    const selected = services.filter((s) => matches(sm.spec.selector.matchLabels, s.metadata.labels));
    if (!check(selected.length === 1, `ServiceMonitor ${sm.metadata.name} selects ${selected.length} Services, not just the metrics one`)) continue;
    const svc = selected[0];
    for (const ep of sm.spec.endpoints || []) {
      check((svc.spec.ports || []).some((p) => p.name === ep.port), `ServiceMonitor endpoint port ${ep.port} is not a port name of Service ${svc.metadata.name}`);
      check(ep.path === '/metrics', 'ServiceMonitor must scrape /metrics');
    }
    job = sm.spec.jobLabel ? (svc.metadata.labels || {})[sm.spec.jobLabel] : svc.metadata.name;
  }
  const sources = ['chorus-recording-rules.yml', 'chorus-alert-rules.yml']
    .flatMap((f) => YAML.parse(fs.readFileSync(path.join(rulesDir, f), 'utf8')).groups);
  for (const pr of rules) {
    const d = firstDifference(pr.spec.groups, sources);
    check(d === null, `PrometheusRule ${pr.metadata.name} differs from deploy/prometheus at spec.groups${d}`);
    for (const g of pr.spec.groups) {
      for (const r of g.rules) {
        for (const [, j] of String(r.expr).matchAll(/\bjob="([^"]*)"/g)) {
          check(job === j, `rule ${r.alert || r.record} selects job="${j}", but the ServiceMonitor makes the job ${job}`);
        }
      }
    }
  }
  // One Prometheus must pick both up: its serviceMonitorSelector and
  // ruleSelector are usually the same label.
  if (monitors.length && rules.length) {
    const a = JSON.stringify(monitors[0].metadata.labels || {});
    const b = JSON.stringify(rules[0].metadata.labels || {});
    check(a === b, `ServiceMonitor labels ${a} and PrometheusRule labels ${b} differ`);
  }
}

function checkConsistency(YAML, objects, opts) {
  for (const kind of opts.require) check(objects.some((o) => o.kind === kind), `the render has no ${kind}`);
  const sets = objects.filter((o) => o.kind === 'StatefulSet');
  if (!check(sets.length === 1, `expected one StatefulSet, found ${sets.length}`)) return;
  const sts = sets[0];
  const pod = sts.spec.template;
  const containers = pod.spec.containers;
  if (!check(containers.length === 1, 'expected one container')) return;
  const container = containers[0];
  checkSecurity(pod.spec, container);
  checkProbes(container);
  checkArgsEnv(container);
  checkServices(objects, sts, { ...pod.spec, metadata: pod.metadata }, container);
  check(pod.spec.terminationGracePeriodSeconds >= 30, 'terminationGracePeriodSeconds must leave time for the final commit');
  // A mount inside another (a Secret inside the ConfigMap's directory) needs
  // its mount point made in a read-only volume, which container runtimes
  // refuse.
  const mounts = (container.volumeMounts || []).map((m) => m.mountPath);
  for (const a of mounts) {
    for (const b of mounts) check(a === b || !b.startsWith(`${a}/`), `volume mounted at ${b} is inside the one at ${a}`);
  }
  const claims = (sts.spec.volumeClaimTemplates || []).map((c) => c.metadata.name);
  check((container.volumeMounts || []).some((m) => m.mountPath === '/var/lib/chorus' && claims.includes(m.name)), 'a volumeClaimTemplate must be mounted at /var/lib/chorus');
  const sub = (container.args || [])[0];
  const flags = chorusFlags(opts.chorus, sub);
  for (const a of container.args.slice(1)) {
    const flag = /^(--[a-z-]+)(=|$)/.exec(a);
    check(flag && flags.has(flag[1]), `arg ${a} is not a flag of chorus ${sub}`);
  }
  if (sub === 'run') checkRun(YAML, objects, pod.spec, container, flags);
  else if (sub === 'demo') checkDemo(container);
  else check(false, `the container runs chorus ${sub}, expected run or demo`);
  checkMonitoring(YAML, objects, opts.rules);
}

// ---- self-test ---------------------------------------------------------------

// Broken copies of the render, each of which the validators must reject.
function brokenCopies(objects) {
  const copies = [];
  const mutate = (kind, what, change) => {
    const i = objects.findIndex((o) => o.kind === kind);
    if (!check(i >= 0, `self-test needs a ${kind} in the render`)) return;
    const obj = JSON.parse(JSON.stringify(objects[i]));
    change(obj);
    copies.push({ label: `${kind} with ${what}`, obj });
  };
  const container = (o) => o.spec.template.spec.containers[0];
  mutate('StatefulSet', 'readinessProbe misspelt readynessProbe', (o) => {
    container(o).readynessProbe = container(o).readinessProbe;
    delete container(o).readinessProbe;
  });
  mutate('StatefulSet', 'an unknown field in the pod securityContext', (o) => { o.spec.template.spec.securityContext.runAsNonroot = true; });
  mutate('StatefulSet', 'replicas as a string', (o) => { o.spec.replicas = 'one'; });
  mutate('Service', 'a port without its required port number', (o) => { delete o.spec.ports[0].port; });
  mutate('ServiceMonitor', 'endpoint port misspelt portt', (o) => { o.spec.endpoints[0].portt = o.spec.endpoints[0].port; delete o.spec.endpoints[0].port; });
  mutate('PrometheusRule', 'a rule\'s alert misspelt alret', (o) => {
    const r = o.spec.groups.flatMap((g) => g.rules).find((x) => x.alert);
    r.alret = r.alert;
    delete r.alert;
  });
  mutate('PodDisruptionBudget', 'an unknown top-level spec field', (o) => { o.spec.maxUnavaliable = 1; });
  return copies;
}

function selfTest(modulesDir, objects) {
  const copies = brokenCopies(objects);
  const rejected = new Set();
  for (const e of schema.validateModels(modulesDir, copies)) rejected.add(e.split(':')[0]);
  for (const e of schema.validateStrict(modulesDir, copies)) rejected.add(e.split(':')[0]);
  for (const { label } of copies) {
    if (check(rejected.has(label), `self-test: the validators accepted a ${label}`)) console.log(`rejected as it should be: ${label}`);
  }
}

// ---- main ----------------------------------------------------------------------

function main() {
  const opts = parseArgs(process.argv.slice(2));
  requireTool(opts.chorus, 'the chorus binary');
  for (const k of opts.kubectl) requireTool(k, 'kubectl');
  const req = createRequire(path.join(opts.modules, 'node_modules', 'resolve-from-here.js'));
  let YAML;
  try {
    YAML = req('yaml');
  } catch (e) {
    throw new Error(`no node_modules in ${opts.modules} (bash .ci/build runs npm ci there)`);
  }
  const renders = opts.kubectl.map((k) => render(YAML, k, opts.overlay));
  const first = normalize(renders[0].objects);
  for (const r of renders.slice(1)) {
    const d = firstDifference(first, normalize(r.objects));
    check(d === null, `${renders[0].label} and ${r.label} render differently at ${d}`);
  }
  const objects = renders[0].objects;
  const entries = objects.map((obj) => ({ label: schema.describe(obj), obj }));
  for (const e of schema.validateModels(opts.modules, entries)) check(false, `schema: ${e}`);
  for (const e of schema.validateStrict(opts.modules, entries)) check(false, `strict schema: ${e}`);
  checkConsistency(YAML, objects, opts);
  if (opts.selfTest) selfTest(opts.modules, objects);
  const names = objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ');
  if (failures.length) {
    for (const f of failures) console.log(`FAIL ${f}`);
    console.log(`${opts.overlay}: ${failures.length} problem(s)`);
    process.exit(1);
  }
  console.log(`${opts.overlay}: rendered by ${renders.map((r) => r.label).join(' and ')}` +
              `${renders.length > 1 ? ' (same objects)' : ''}; valid and consistent: ${names}`);
}

try {
  main();
} catch (e) {
  console.log(`FAIL ${e.message}`);
  process.exit(1);
}
