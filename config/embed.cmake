# Writes the config and data files into a C++ source as raw string literals.
file(READ ${CONFIG} config_text)
file(READ ${ZONES} zones_text)
file(READ ${DNSBL_ZONES} dnsbl_zones_text)
foreach(text IN ITEMS config_text zones_text dnsbl_zones_text)
  string(FIND "${${text}}" ")qharden\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "embedded file contains the raw-string delimiter")
  endif()
endforeach()
file(WRITE ${OUTPUT} "// Generated from config/ by config/embed.cmake.\n#include <string_view>\nnamespace qharden {\n"
  "std::string_view builtin_config_text() { return R\"qharden(${config_text})qharden\"; }\n"
  "std::string_view builtin_defunct_zones_text() { return R\"qharden(${zones_text})qharden\"; }\n"
  "std::string_view builtin_dnsbl_zones_text() { return R\"qharden(${dnsbl_zones_text})qharden\"; }\n"
  "}  // namespace qharden\n")
