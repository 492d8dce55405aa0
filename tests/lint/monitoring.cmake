# The Prometheus rules, their runbook and the Grafana dashboard hold together
# and match what the built qharden writes (lint/monitoring_test.sh: promtool
# check/test rules, check metrics on real output, seconds). It runs the binary
# only on fixture trees, offline; skipped when no promtool is found
# (tests/lint/unpack-prometheus.sh unpacks Debian's).
add_test(NAME lint.monitoring COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/lint/monitoring_test.sh)
set_tests_properties(lint.monitoring PROPERTIES
  LABELS lint SKIP_RETURN_CODE 77
  ENVIRONMENT "QHARDEN=$<TARGET_FILE:qharden>;QHARDEN_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
