# The RPM spec parses with stand-in EL9 macros, packages nothing in /etc and
# is rpmlint-clean (packaging/rpm/check.sh, seconds). Skipped when rpm or
# rpmlint is not installed. The full build of the RPM (check.sh --build,
# minutes) is packaging/bootstrap.sh release-check's, not ctest's.
add_test(NAME lint.rpm_spec COMMAND bash ${PROJECT_SOURCE_DIR}/packaging/rpm/check.sh)
set_tests_properties(lint.rpm_spec PROPERTIES
  LABELS lint SKIP_RETURN_CODE 77 ENVIRONMENT "QHARDEN_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
