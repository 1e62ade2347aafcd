# Warnings and sanitizers shared by every Weft target. weft_target_defaults(target) applies them.
add_library(weft_build_flags INTERFACE)
add_library(weft::build_flags ALIAS weft_build_flags)
target_compile_options(weft_build_flags INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                                  -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual
                                                  -Wimplicit-fallthrough)
if(WEFT_WARNINGS_AS_ERRORS)
  target_compile_options(weft_build_flags INTERFACE -Werror)
endif()

if(WEFT_SANITIZE)
  set(weft_sanitize_flags -fsanitize=${WEFT_SANITIZE} -fno-omit-frame-pointer)
  if(WEFT_SANITIZE MATCHES "undefined")
    list(APPEND weft_sanitize_flags -fno-sanitize-recover=undefined)
  endif()
  if(WEFT_SANITIZE MATCHES "thread")
    # GCC warns that TSan does not model std::atomic_thread_fence; the fences pair with seq_cst atomics in the
    # same code, and the ThreadSanitizer run is clean without them being modelled.
    list(APPEND weft_sanitize_flags -Wno-tsan)
  endif()
  # Every target, so that the library, the tools and the tests agree.
  add_compile_options(${weft_sanitize_flags})
  add_link_options(${weft_sanitize_flags})
endif()

function(weft_target_defaults target)
  target_link_libraries(${target} PRIVATE $<BUILD_INTERFACE:weft::build_flags>)
endfunction()
