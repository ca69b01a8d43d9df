'use strict';
// Offline schema validation of Kubernetes objects, in two passes:
//
// 1. kubernetes-models' validators (ajv code generated from the Kubernetes
//    OpenAPI schema, and from the Prometheus Operator's CRDs): types,
//    required fields, enums, formats. Like the API server's schema they
//    accept fields they do not know, so a misspelt `readynessProbe` passes.
// 2. TypeScript: each object is written as an object literal typed with the
//    same package's interface (IStatefulSet, IServiceMonitor, ...) and
//    type-checked; excess-property checking rejects every unknown field, at
//    any depth. `check-manifests.js --self-test` proves that both passes
//    catch what they should.
//
// Both passes load their packages from `modulesDir` (the directory holding
// node_modules, where .ci/build ran `npm ci`).
const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

// The package module and type name for an apiVersion and kind.
function modelFor(obj) {
  const { apiVersion, kind } = obj;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return null;
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  if (group === 'monitoring.coreos.com') {
    return { module: `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`, kind };
  }
  return { module: group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`, kind };
}

function describe(obj) {
  return `${obj.kind} ${obj.metadata && obj.metadata.name}`;
}

// Pass 1. Returns a list of "what: message".
function validateModels(modulesDir, entries) {
  const req = createRequire(path.join(modulesDir, 'node_modules', 'resolve-from-here.js'));
  const errors = [];
  for (const { label, obj } of entries) {
    const model = modelFor(obj);
    let Model;
    try {
      Model = model && req(model.module)[model.kind];
    } catch (e) {
      Model = undefined;
    }
    if (!Model) {
      errors.push(`${label}: no schema for apiVersion ${obj.apiVersion}, kind ${obj.kind}`);
      continue;
    }
    try {
      new Model(obj).validate();
    } catch (e) {
      const details = (e.errors || []).map((x) => `${x.instancePath || '/'} ${x.message}`);
      errors.push(`${label}: ${details.length ? details.join('; ') : e.message}`);
    }
  }
  return errors;
}

// Pass 2. Returns a list of "what: message".
function validateStrict(modulesDir, entries) {
  const req = createRequire(path.join(modulesDir, 'node_modules', 'resolve-from-here.js'));
  const ts = req('typescript');
  const lines = [];
  const owners = [];  // owners[line] = label of the object on that line
  const emit = (text, label) => {
    for (const l of text.split('\n')) {
      lines.push(l);
      owners.push(label);
    }
  };
  const errors = [];
  entries.forEach(({ label, obj }, i) => {
    const model = modelFor(obj);
    if (!model) {
      errors.push(`${label}: no type for apiVersion ${obj.apiVersion}, kind ${obj.kind}`);
      return;
    }
    emit(`import type { I${model.kind} as T${i} } from ${JSON.stringify(model.module)};`, label);
    emit(`export const o${i}: T${i} = ${JSON.stringify(obj, null, 2)};`, label);
  });
  const file = path.join(modulesDir, `manifests-check-${process.pid}.ts`);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  try {
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: [],
      target: ts.ScriptTarget.ES2020,
      module: ts.ModuleKind.CommonJS,
      moduleResolution: ts.ModuleResolutionKind.Node10,
    });
    for (const d of ts.getPreEmitDiagnostics(program)) {
      const message = ts.flattenDiagnosticMessageText(d.messageText, ' ');
      if (!d.file || path.resolve(d.file.fileName) !== path.resolve(file)) {
        errors.push(`typescript: ${message}`);
        continue;
      }
      const { line } = d.file.getLineAndCharacterOfPosition(d.start);
      errors.push(`${owners[line]}: ${lines[line].trim()}: ${message}`);
    }
  } finally {
    fs.unlinkSync(file);
  }
  return errors;
}

module.exports = { describe, modelFor, validateModels, validateStrict };
