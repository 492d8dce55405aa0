# The Ansible collection qharden.fleet (packaging/ansible): yamllint, syntax,
# ansible-doc, validate-modules, the offline ansible-test sanity tests and
# the modules' and playbooks' unit tests against a fake qharden
# (lint/ansible_test.sh). It runs no built binary and needs no root. Labelled
# lint, so it runs once per CI run (the ASan tier skips lint: nothing of the
# C++ build is in it); skipped when ansible-core is not installed. Its
# ansible-playbook runs make it take a minute or two.
add_test(NAME lint.ansible COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/lint/ansible_test.sh)
set_tests_properties(lint.ansible PROPERTIES
  LABELS lint SKIP_RETURN_CODE 77 TIMEOUT 900
  ENVIRONMENT "QHARDEN_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
