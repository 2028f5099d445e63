# mb_warnings(target): the project's warning set, PRIVATE so consumers are not affected.
function(mb_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
                                           -Wnon-virtual-dtor -Wold-style-cast
                                           -Wcast-align -Woverloaded-virtual)
  if(MB_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
