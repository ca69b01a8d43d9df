# Tests of deploy/: YAML lint, the PrometheusRule generated from
# deploy/prometheus, and each kustomize overlay rendered, schema-validated
# offline and checked for consistency (check-manifests.js). Included from
# tests/CMakeLists.txt. The tools come from .ci/build (Debian packages, and
# deploy/kubernetes/tests/setup.sh for kubectl 1.20 and the npm packages);
# a test whose tool is missing fails and says so.
set(CHORUS_K8S_DIR ${CMAKE_SOURCE_DIR}/deploy/kubernetes)
set(CHORUS_K8S_CHECKS ${CMAKE_BINARY_DIR}/kubernetes-checks)
set(CHORUS_K8S_OLD_KUBECTL ${CMAKE_BINARY_DIR}/tools/kubectl-1.20)

# A test that fails at once, naming the missing tool.
function(chorus_missing_tool_test name tool)
  add_test(NAME ${name}
           COMMAND sh -c "echo '${tool} is missing: bash .ci/build installs it'; exit 1")
endfunction()

find_program(YAMLLINT yamllint)
if(YAMLLINT)
  add_test(NAME Kubernetes.YamlLint
           COMMAND ${YAMLLINT} --strict -c ${CMAKE_SOURCE_DIR}/deploy/.yamllint ${CMAKE_SOURCE_DIR}/deploy)
else()
  chorus_missing_tool_test(Kubernetes.YamlLint yamllint)
endif()

# Debian's python3 with python3-yaml, not whatever python3 comes first.
find_program(CHORUS_PYTHON3 python3 PATHS /usr/bin NO_DEFAULT_PATH)
find_program(CHORUS_PYTHON3 python3)
if(CHORUS_PYTHON3)
  add_test(NAME Kubernetes.PrometheusRuleUpToDate
           COMMAND ${CHORUS_PYTHON3} ${CHORUS_K8S_DIR}/gen-prometheusrule.py --check)
else()
  chorus_missing_tool_test(Kubernetes.PrometheusRuleUpToDate python3)
endif()

find_program(NODE node)
# The old renderer always (the only one a fresh Debian 12 has), and the
# kubectl on PATH too when there is one: both must give the same objects.
set(renderers --kubectl ${CHORUS_K8S_OLD_KUBECTL})
find_program(KUBECTL kubectl)
if(KUBECTL)
  list(APPEND renderers --kubectl ${KUBECTL})
endif()
set(check_manifests ${NODE} ${CHORUS_K8S_DIR}/tests/check-manifests.js
    --modules ${CHORUS_K8S_CHECKS} --chorus $<TARGET_FILE:chorus>
    --rules ${CMAKE_SOURCE_DIR}/deploy/prometheus ${renderers})
if(NODE)
  add_test(NAME Kubernetes.Render.demo
           COMMAND ${check_manifests} --overlay ${CHORUS_K8S_DIR}/overlays/demo)
  add_test(NAME Kubernetes.Render.production
           COMMAND ${check_manifests} --overlay ${CHORUS_K8S_DIR}/overlays/production
                   --require ServiceMonitor --require PrometheusRule)
  # The validators reject a misspelt field, a wrong type and a missing
  # required field in copies of the production objects.
  add_test(NAME Kubernetes.SchemaRejectsBrokenObjects
           COMMAND ${check_manifests} --overlay ${CHORUS_K8S_DIR}/overlays/production --self-test)
else()
  foreach(t Render.demo Render.production SchemaRejectsBrokenObjects)
    chorus_missing_tool_test(Kubernetes.${t} node)
  endforeach()
endif()
