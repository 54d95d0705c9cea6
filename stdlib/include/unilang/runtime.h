/* unilang runtime API (freestanding, x86-64): the umbrella header.
 *
 * It includes the core interfaces every build sees (<unilang/core.h>,
 * <unilang/x86.h>) and the API headers of the runtime libraries that this
 * build selected: a library's headers are in its folder's include/ and are
 * copied into a build only when the library is in the image, so
 * __has_include() tells which are there.  New code may include the headers
 * it needs directly (<unilang/conio.h>, <unilang/tsc-clock.h>, ...).
 *
 * If the compiler generated a header "unilang_params.h" (library parameters,
 * UNILANG_PARAM_* macros) and put it on the include path, it is included
 * here; -D options work as well.
 */
#ifndef UNILANG_RUNTIME_H
#define UNILANG_RUNTIME_H

#if defined(__has_include)
#if __has_include(<unilang_params.h>)
#include <unilang_params.h>
#endif
#endif

#include <unilang/core.h>
#include <unilang/x86.h>

#if defined(__has_include)
#if __has_include(<unilang/conio.h>)
#include <unilang/conio.h>
#endif
#if __has_include(<unilang/tsc-clock.h>)
#include <unilang/tsc-clock.h>
#endif
#if __has_include(<unilang/rdrand.h>)
#include <unilang/rdrand.h>
#endif
#endif

#endif /* UNILANG_RUNTIME_H */
