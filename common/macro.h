/* Small macros shared by every part of vigil: cleanup attributes, ownership transfer,
 * string-table lookups and a few compiler hints. Header only; nothing here allocates
 * on its own or logs. */
#pragma once

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _unused_ __attribute__((__unused__))
#define _printf_(a, b) __attribute__((__format__(printf, a, b)))
#define _noreturn_ __attribute__((__noreturn__))
#define _pure_ __attribute__((__pure__))
#define _const_ __attribute__((__const__))
#define _cleanup_(f) __attribute__((__cleanup__(f)))
#define _likely_(x) (__builtin_expect(!!(x), 1))
#define _unlikely_(x) (__builtin_expect(!!(x), 0))
#define _fallthrough_ __attribute__((__fallthrough__))
#define _warn_unused_result_ __attribute__((__warn_unused_result__))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Works with and without NDEBUG: reaching it is a programmer error in any build. */
_noreturn_ static inline void log_assert_not_reached(const char *file, int line, const char *func) {
        fprintf(stderr, "%s:%d: %s: code should not be reached\n", file, line, func);
        abort();
}
#define assert_not_reached() log_assert_not_reached(__FILE__, __LINE__, __func__)

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return streq(a, b);
}

static inline const char *strna(const char *s) {
        return s ?: "n/a";
}

/* Returns NULL so that "p = mfree(p);" both frees and clears. */
static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

static inline void freep(void *p) {
        free(*(void **) p);
}

#define _cleanup_free_ _cleanup_(freep)

/* Closes fd unless it is negative and preserves errno; returns -EBADF for "fd = safe_close(fd);". */
static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}

static inline void closep(int *fd) {
        (void) safe_close(*fd);
}

#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f) {
        if (*f)
                (void) fclose(*f);
}

#define _cleanup_fclose_ _cleanup_(fclosep)

/* Moves ownership out of a _cleanup_ variable. */
#define TAKE_PTR(p)                                 \
        ({                                          \
                __typeof__(p) _ptr_ = (p);          \
                (p) = NULL;                         \
                _ptr_;                              \
        })

#define TAKE_FD(fd)                                 \
        ({                                          \
                int _fd_ = (fd);                    \
                (fd) = -EBADF;                      \
                _fd_;                               \
        })

/* Define to_string()/from_string() over a designated-initializer table sized by _MAX. */
#define DEFINE_STRING_TABLE_LOOKUP(name, type)                                       \
        const char *name##_to_string(type i) {                                       \
                if (i < 0 || (size_t) i >= ELEMENTSOF(name##_table))                 \
                        return NULL;                                                 \
                return name##_table[i];                                              \
        }                                                                            \
        type name##_from_string(const char *s) {                                     \
                if (!s)                                                              \
                        return (type) -EINVAL;                                       \
                for (size_t _i = 0; _i < ELEMENTSOF(name##_table); _i++)             \
                        if (name##_table[_i] && streq(name##_table[_i], s))          \
                                return (type) _i;                                    \
                return (type) -EINVAL;                                               \
        }

/* errno-style return helpers. */
#define RET_NERRNO(expr)                            \
        ({                                          \
                int _r_ = (expr);                   \
                _r_ < 0 ? -errno : _r_;             \
        })

static inline int negative_errno(void) {
        assert(errno > 0);
        return -errno;
}

/* The text of a macro's expansion, as a string literal. */
#define XSTRINGIFY(x) #x
#define STRINGIFY(x) XSTRINGIFY(x)

/* True if x equals one of the listed values. */
#define IN_SET(x, first, ...)                                                         \
        ({                                                                            \
                bool _in_set_found = false;                                           \
                const __typeof__(first) _in_set_values[] = { first, __VA_ARGS__ };    \
                for (size_t _in_set_k = 0; _in_set_k < ELEMENTSOF(_in_set_values); _in_set_k++) \
                        if ((x) == _in_set_values[_in_set_k]) {                       \
                                _in_set_found = true;                                 \
                                break;                                                \
                        }                                                             \
                _in_set_found;                                                        \
        })
