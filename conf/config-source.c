/* Reads vigil.conf and the files it @includes into one in-memory text for libconfig, and maps
 * each line of that text back to FILE:LINE. Owns every file check (regular file, size cap, not
 * writable by other users, FIFO-safe open), the @include expansion with its depth, cycle, count
 * and size limits, and the L-suffix fix-up of integer literals for libconfig 1.5. libconfig must
 * never open a file itself: 1.5 exit(2)s on @include of a directory and mangles absolute include
 * paths once an include directory is set. Non-logging; never prints, never exits. */

#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>

#include "config-source.h"
#include "config.h"
#include "strv.h"

#define INCLUDE_DEPTH_MAX 10U
#define INCLUDES_MAX 256U
/* The expanded text: including the same files many times must not multiply without bound. */
#define SOURCE_SIZE_MAX (4U * CONFIG_FILE_SIZE_MAX)

static int set_error(char **error, int r, const char *fmt, ...) _printf_(3, 4);
static int set_error(char **error, int r, const char *fmt, ...) {
        va_list ap;

        /* Only the first error is kept: later ones are usually consequences of it. */
        if (*error)
                return r;

        va_start(ap, fmt);
        if (vasprintf(error, fmt, ap) < 0)
                *error = NULL;
        va_end(ap);
        return r;
}

/* From text_line on, line n of the expanded text is line file_line + (n - text_line) of file. */
typedef struct SourceSegment {
        unsigned text_line;
        size_t file;
        unsigned file_line;
} SourceSegment;

struct ConfigSource {
        char *text;
        size_t size;
        size_t allocated;
        unsigned text_line; /* line being written, 1-based */

        char **files; /* every file read, in reading order; may repeat */
        SourceSegment *segments;
        size_t n_segments;

        struct stat stack[INCLUDE_DEPTH_MAX + 1]; /* files being expanded, for cycle detection */
        size_t depth;
        unsigned n_includes;

        char *error;
};

static int source_add_segment(ConfigSource *s, size_t file, unsigned file_line) {
        SourceSegment *n;

        n = reallocarray(s->segments, s->n_segments + 1, sizeof(SourceSegment));
        if (!n)
                return -ENOMEM;
        s->segments = n;
        s->segments[s->n_segments++] = (SourceSegment) {
                .text_line = s->text_line,
                .file = file,
                .file_line = file_line,
        };
        return 0;
}

static int source_put(ConfigSource *s, char c) {
        if (s->size + 2 > s->allocated) {
                size_t a = MAX(s->allocated * 2, (size_t) 4096);
                char *n;

                if (s->size + 2 > SOURCE_SIZE_MAX)
                        return -EFBIG;
                a = MIN(a, (size_t) SOURCE_SIZE_MAX);
                n = realloc(s->text, a);
                if (!n)
                        return -ENOMEM;
                s->text = n;
                s->allocated = a;
        }

        s->text[s->size++] = c;
        s->text[s->size] = '\0';
        if (c == '\n')
                s->text_line++;
        return 0;
}

/* Opens and reads one config file after checking what it is and who may change it. On
 * failure *reterr_what describes the problem (without the file name). */
static int read_config_file(const char *path, char **ret_text, size_t *ret_size, struct stat *ret_st,
                            char **reterr_what) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *text = NULL;
        struct stat st;
        size_t n = 0, allocated;

        /* O_NONBLOCK: opening a FIFO must not hang before fstat() can refuse it. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return set_error(reterr_what, -errno, "%m");
        if (fstat(fd, &st) < 0)
                return set_error(reterr_what, -errno, "%m");

        if (S_ISDIR(st.st_mode))
                return set_error(reterr_what, -EISDIR, "is a directory");
        if (!S_ISREG(st.st_mode))
                return set_error(reterr_what, -EINVAL, "not a regular file");

        /* Whoever can write the config can run any program as any user through vigild. */
        if (st.st_mode & S_IWOTH)
                return set_error(reterr_what, -EPERM,
                                 "refusing config file writable by other users (mode %04o)",
                                 (unsigned) (st.st_mode & 07777));
        if ((st.st_mode & S_IWGRP) && st.st_gid != 0)
                return set_error(reterr_what, -EPERM,
                                 "refusing config file writable by group %u (mode %04o)",
                                 (unsigned) st.st_gid, (unsigned) (st.st_mode & 07777));
        if (st.st_uid != 0 && st.st_uid != geteuid())
                return set_error(reterr_what, -EPERM, "refusing config file owned by another user (uid %u)",
                                 (unsigned) st.st_uid);

        if (st.st_size > (off_t) CONFIG_FILE_SIZE_MAX)
                return set_error(reterr_what, -EFBIG, "larger than %u bytes", CONFIG_FILE_SIZE_MAX);

        /* Room for one byte more than fstat() reported, so that a file growing under us is noticed;
         * it may grow up to the limit, never beyond. */
        allocated = (size_t) st.st_size + 1;
        text = malloc(allocated + 1);
        if (!text)
                return -ENOMEM;
        for (;;) {
                ssize_t k;

                if (n == allocated) {
                        char *t;

                        allocated = MIN(allocated * 2, (size_t) CONFIG_FILE_SIZE_MAX + 1);
                        t = realloc(text, allocated + 1);
                        if (!t)
                                return -ENOMEM;
                        text = t;
                }

                k = read(fd, text + n, allocated - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return set_error(reterr_what, -errno, "%m");
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n > CONFIG_FILE_SIZE_MAX)
                        return set_error(reterr_what, -EFBIG, "larger than %u bytes", CONFIG_FILE_SIZE_MAX);
        }
        text[n] = '\0';

        *ret_text = TAKE_PTR(text);
        *ret_size = n;
        *ret_st = st;
        return 0;
}

/* A relative include is relative to the directory of the file that names it. */
static char *include_resolve(const char *includer, const char *path) {
        const char *slash;
        char *r;

        if (path[0] == '/')
                return strdup(path);

        slash = strrchr(includer, '/');
        if (!slash)
                return strdup(path);
        if (asprintf(&r, "%.*s/%s", (int) (slash - includer), includer, path) < 0)
                return NULL;
        return r;
}

static int source_add_file(ConfigSource *s, const char *path, const char *includer, unsigned include_line,
                           const char *raw);

/* At text (an '@' at the start of a line in code, outside comments and strings): if it is an
 * @include directive in the form libconfig recognises, expands it and sets *ret_len to the bytes
 * consumed; otherwise *ret_len is 0 and the text is left for libconfig to judge. */
static int source_include(ConfigSource *s, const char *file, unsigned line, const char *text, size_t size,
                          size_t *ret_len) {
        static const char directive[] = "@include";
        _cleanup_free_ char *raw = NULL, *resolved = NULL;
        size_t i = sizeof(directive) - 1, start, before;
        int r;

        *ret_len = 0;

        if (size < i || strncmp(text, directive, i) != 0)
                return 0;
        if (i >= size || (text[i] != ' ' && text[i] != '\t'))
                return 0;
        while (i < size && (text[i] == ' ' || text[i] == '\t'))
                i++;
        if (i >= size || text[i] != '"')
                return 0;

        start = ++i;
        for (; i < size && text[i] != '"'; i++) {
                if (text[i] == '\n' || text[i] == '\0')
                        return set_error(&s->error, -EINVAL, "%s:%u: @include: missing closing quote", file,
                                         line);
                if (text[i] == '\\')
                        return set_error(&s->error, -EINVAL,
                                         "%s:%u: @include: backslashes are not supported in include paths",
                                         file, line);
        }
        if (i >= size)
                return set_error(&s->error, -EINVAL, "%s:%u: @include: missing closing quote", file, line);
        if (i == start)
                return set_error(&s->error, -EINVAL, "%s:%u: @include \"\": empty path", file, line);

        raw = strndup(text + start, i - start);
        if (!raw)
                return -ENOMEM;
        resolved = include_resolve(file, raw);
        if (!resolved)
                return -ENOMEM;

        before = s->size;
        r = source_add_file(s, resolved, file, line, raw);
        if (r < 0)
                return r;

        /* The rest of the directive's line continues on a fresh line of the expanded text. */
        if (s->size > before && s->text[s->size - 1] != '\n') {
                r = source_put(s, '\n');
                if (r < 0)
                        return r;
        }

        *ret_len = i + 1;
        return 0;
}

static bool is_name_char(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
               c == '-' || c == '*';
}

static int hex_digit(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Copies the number literal at t. libconfig 1.5 silently wraps integers outside 32 bits unless
 * they carry an L suffix ("instances = 4294967297" would read as 1), so every such literal gets
 * the suffix here and is then range-checked with its real value; one beyond 64 bits is refused. */
static int source_number(ConfigSource *s, const char *file, unsigned line, const char *t, size_t size,
                         size_t *ret_len) {
        bool hex = size > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X') && hex_digit(t[2]) >= 0;
        unsigned base = hex ? 16 : 10;
        bool overflow = false;
        uint64_t v = 0;
        size_t i = hex ? 2 : 0;
        int r;

        for (; i < size; i++) {
                int d = hex ? hex_digit(t[i]) : (t[i] >= '0' && t[i] <= '9' ? t[i] - '0' : -1);

                if (d < 0)
                        break;
                if (v > (UINT64_MAX - (unsigned) d) / base)
                        overflow = true;
                else
                        v = v * base + (unsigned) d;
        }

        /* A float: libconfig reads it as a double, whatever its size. */
        if (!hex && i < size && (t[i] == '.' || t[i] == 'e' || t[i] == 'E')) {
                for (; i < size; i++) {
                        if ((t[i] == '+' || t[i] == '-') && (t[i - 1] == 'e' || t[i - 1] == 'E'))
                                continue;
                        if (!((t[i] >= '0' && t[i] <= '9') || t[i] == '.' || t[i] == 'e' || t[i] == 'E'))
                                break;
                }
                v = 0;
                overflow = false;
        }

        if (overflow || v > (uint64_t) INT64_MAX)
                return set_error(&s->error, -ERANGE, "%s:%u: integer %.*s is too large", file, line, (int) i,
                                 t);

        for (size_t j = 0; j < i; j++) {
                r = source_put(s, t[j]);
                if (r < 0)
                        return r;
        }
        if (v > (uint64_t) INT32_MAX && !(i < size && t[i] == 'L')) {
                r = source_put(s, 'L');
                if (r < 0)
                        return r;
        }

        *ret_len = i;
        return 0;
}

typedef enum LexState {
        LEX_CODE,
        LEX_LINE_COMMENT,
        LEX_BLOCK_COMMENT,
        LEX_STRING,
} LexState;

/* Copies one file's text into the expanded text. It tracks comments and strings exactly as
 * far as libconfig's scanner does, so that an @include inside a comment or a multi-line string
 * stays text, as it would for libconfig. */
static int source_scan(ConfigSource *s, size_t file_idx, const char *text, size_t size) {
        const char *file = s->files[file_idx];
        LexState state = LEX_CODE;
        unsigned line = 1, state_line = 0;
        bool at_line_start = true, in_name = false;
        int r;

        r = source_add_segment(s, file_idx, 1);
        if (r < 0)
                return r;

        for (size_t i = 0; i < size; i++) {
                char c = text[i];
                char next = i + 1 < size ? text[i + 1] : '\0';

                switch (state) {
                case LEX_CODE:
                        if (c == '@' && at_line_start) {
                                size_t len = 0;

                                r = source_include(s, file, line, text + i, size - i, &len);
                                if (r < 0)
                                        goto fail;
                                if (len > 0) {
                                        i += len - 1;
                                        at_line_start = false;
                                        r = source_add_segment(s, file_idx, line);
                                        if (r < 0)
                                                goto fail;
                                        continue;
                                }
                        }
                        if (!in_name &&
                            ((c >= '0' && c <= '9') || (c == '.' && next >= '0' && next <= '9'))) {
                                size_t len = 0;

                                r = source_number(s, file, line, text + i, size - i, &len);
                                if (r < 0)
                                        goto fail;
                                i += len - 1;
                                at_line_start = false;
                                continue;
                        }
                        in_name = in_name ? is_name_char(c)
                                          : ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '*');

                        if (c == '#' || (c == '/' && next == '/')) {
                                state = LEX_LINE_COMMENT;
                        } else if (c == '/' && next == '*') {
                                r = source_put(s, c);
                                if (r < 0)
                                        goto fail;
                                c = text[++i];
                                state = LEX_BLOCK_COMMENT;
                                state_line = line;
                        } else if (c == '"') {
                                state = LEX_STRING;
                                state_line = line;
                        }
                        break;

                case LEX_LINE_COMMENT:
                        if (c == '\n')
                                state = LEX_CODE;
                        break;

                case LEX_BLOCK_COMMENT:
                        if (c == '*' && next == '/') {
                                r = source_put(s, c);
                                if (r < 0)
                                        goto fail;
                                c = text[++i];
                                state = LEX_CODE;
                        }
                        break;

                case LEX_STRING:
                        if (c == '\\' && i + 1 < size) {
                                r = source_put(s, c);
                                if (r < 0)
                                        goto fail;
                                c = text[++i];
                        } else if (c == '"')
                                state = LEX_CODE;
                        break;

                default:
                        assert_not_reached();
                }

                /* libconfig reads a C string: a NUL would silently end the file early. */
                if (c == '\0')
                        return set_error(&s->error, -EINVAL, "%s:%u: NUL byte in config file", file, line);

                r = source_put(s, c);
                if (r < 0)
                        goto fail;

                if (c == '\n') {
                        line++;
                        at_line_start = true;
                } else if (c != ' ' && c != '\t')
                        at_line_start = false;
        }

        if (state == LEX_BLOCK_COMMENT)
                return set_error(&s->error, -EINVAL, "%s:%u: unterminated comment", file, state_line);
        if (state == LEX_STRING)
                return set_error(&s->error, -EINVAL, "%s:%u: unterminated string", file, state_line);
        return 0;

fail:
        if (r == -EFBIG)
                return set_error(&s->error, r,
                                 "%s:%u: configuration larger than %u bytes after @include expansion", file,
                                 line, SOURCE_SIZE_MAX);
        return r;
}

/* Reads path and appends its expansion. includer is NULL for the main file; otherwise errors
 * are reported at the including directive, naming raw as written there. */
static int source_add_file(ConfigSource *s, const char *path, const char *includer, unsigned include_line,
                           const char *raw) {
        _cleanup_free_ char *text = NULL, *what = NULL;
        struct stat st;
        size_t size = 0, idx;
        int r;

        if (includer) {
                if (s->depth > INCLUDE_DEPTH_MAX)
                        return set_error(&s->error, -ELOOP,
                                         "%s:%u: @include \"%s\": nested more than %u levels deep", includer,
                                         include_line, raw, INCLUDE_DEPTH_MAX);
                if (++s->n_includes > INCLUDES_MAX)
                        return set_error(&s->error, -E2BIG, "%s:%u: @include \"%s\": more than %u includes",
                                         includer, include_line, raw, INCLUDES_MAX);
        }

        r = read_config_file(path, &text, &size, &st, &what);
        if (r < 0) {
                if (!what)
                        return r;
                if (includer)
                        return set_error(&s->error, r, "%s:%u: @include \"%s\": %s", includer, include_line,
                                         raw, what);
                return set_error(&s->error, r, "%s: %s", path, what);
        }

        for (size_t i = 0; i < s->depth; i++)
                if (s->stack[i].st_dev == st.st_dev && s->stack[i].st_ino == st.st_ino)
                        return set_error(&s->error, -ELOOP, "%s:%u: @include \"%s\": include cycle",
                                         includer, include_line, raw);

        idx = strv_length(s->files);
        r = strv_extend(&s->files, path);
        if (r < 0)
                return r;

        s->stack[s->depth++] = st;
        r = source_scan(s, idx, text, size);
        s->depth--;
        return r;
}

/* ---------------------------------------------------------------------------------------
 * Public API. */

ConfigSource *config_source_free(ConfigSource *s) {
        if (!s)
                return NULL;

        free(s->text);
        strv_free(s->files);
        free(s->segments);
        free(s->error);
        return mfree(s);
}

int config_source_read(const char *path, ConfigSource **ret_source, char **reterr_message) {
        _cleanup_(config_source_freep) ConfigSource *s = NULL;
        int r;

        assert(path);
        assert(ret_source);

        s = calloc(1, sizeof(ConfigSource));
        if (!s)
                return -ENOMEM;
        s->text_line = 1;

        r = source_add_file(s, path, NULL, 0, NULL);
        if (r < 0) {
                if (reterr_message)
                        *reterr_message = TAKE_PTR(s->error);
                return r;
        }

        *ret_source = TAKE_PTR(s);
        return 0;
}

const char *config_source_text(const ConfigSource *s) {
        assert(s);

        return s->text ?: "";
}

void config_source_locate(const ConfigSource *s, unsigned text_line, const char **ret_file,
                          unsigned *ret_line) {
        const SourceSegment *seg;

        assert(s);
        assert(ret_file);
        assert(ret_line);
        assert(s->n_segments > 0);

        seg = &s->segments[0];

        /* Several segments may start on one line (an empty included file); the last one owns it. */
        for (size_t i = 1; i < s->n_segments && s->segments[i].text_line <= text_line; i++)
                seg = &s->segments[i];

        *ret_file = s->files[seg->file];
        *ret_line = seg->file_line + (text_line > seg->text_line ? text_line - seg->text_line : 0);
}

int config_source_error_at(const ConfigSource *s, unsigned text_line, char **error, int r, const char *fmt,
                           ...) {
        char *what = NULL;
        const char *file;
        unsigned line;
        va_list ap;
        int k;

        assert(s);
        assert(error);
        assert(fmt);

        if (*error)
                return r;

        va_start(ap, fmt);
        k = vasprintf(&what, fmt, ap);
        va_end(ap);
        if (k < 0)
                return r;

        config_source_locate(s, text_line, &file, &line);
        r = set_error(error, r, "%s:%u: %s", file, line, what);
        free(what);
        return r;
}
