# mb_warnings(target): the project's warning set, PRIVATE so consumers are not affected.
function(mb_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
                                           -Wnon-virtual-dtor -Wold-style-cast
                                           -Wcast-align -Woverloaded-virtual)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # g++ 12 at -O2 flags Asio's coroutine frame allocator (operator new/delete of
    # awaitable_frame_base) as mismatched: a known false positive.
    target_compile_options(${target} PRIVATE -Wno-mismatched-new-delete)
  endif()
  if(MB_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
