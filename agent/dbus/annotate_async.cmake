# Writes OUTPUT: the interface XML INPUT with sdbus-c++'s server-side async
# annotation on each method named in METHODS (;-separated), for xml2cpp only.
# The shipped XML stays the design's text; the agent needs these methods
# async because their work runs as jobs of its event loop (daemon/manager.h)
# and is answered when the job ends. A method missing from the XML is an error,
# so a rename cannot silently leave a method synchronous.
file(READ ${INPUT} xml)
foreach(method IN LISTS METHODS)
  set(opening "<method name=\"${method}\">")
  string(FIND "${xml}" "${opening}" position)
  if(position EQUAL -1)
    message(FATAL_ERROR "${INPUT}: no method ${method} to annotate")
  endif()
  string(REPLACE "${opening}"
         "${opening}<annotation name=\"org.freedesktop.DBus.Method.Async\" value=\"server\"/>"
         xml "${xml}")
endforeach()
file(WRITE ${OUTPUT} "${xml}")
