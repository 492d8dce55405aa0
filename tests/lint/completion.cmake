# The bash completion matches the built qharden (lint/completion_test.sh). It
# runs the binary, without root, so it is in the cli tier.
add_test(NAME lint.completion COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/lint/completion_test.sh)
set_tests_properties(lint.completion PROPERTIES
  LABELS cli
  ENVIRONMENT "QHARDEN=$<TARGET_FILE:qharden>;QHARDEN_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
