# The man pages match the binaries and the config (lint/man_pages_test.sh).
# It runs the built qharden and qhardend, without root, so it is in the cli
# tier; without QHARDEN_MANPAGES there are no pages to check.
if(QHARDEN_MANPAGES)
  add_test(NAME lint.man_pages COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/lint/man_pages_test.sh)
  set_tests_properties(lint.man_pages PROPERTIES
    LABELS cli SKIP_RETURN_CODE 77
    ENVIRONMENT "QHARDEN=$<TARGET_FILE:qharden>;QHARDEN_SOURCE_DIR=${PROJECT_SOURCE_DIR};QHARDEN_MAN_DIR=${PROJECT_BINARY_DIR}/agent/man")
endif()
