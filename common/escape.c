/* Escaping untrusted text for terminals, CSV and JSON. See escape.h. */

#include <string.h>

#include "escape.h"

static int is_control(unsigned char c) {
        return c < 0x20 || c == 0x7f;
}

void fputs_escaped(const char *s, FILE *f) {
        for (const unsigned char *p = (const unsigned char *) (s ? s : ""); *p; p++)
                if (is_control(*p))
                        fprintf(f, "\\x%02x", *p);
                else
                        fputc(*p, f);
}

void fputs_csv(const char *s, FILE *f) {
        const char *v = s ? s : "";
        int quote = strpbrk(v, ",\"\r\n") != NULL;

        if (quote)
                fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) v; *p; p++)
                if (*p == '"')
                        fputs("\"\"", f);
                else if (quote && (*p == '\r' || *p == '\n'))
                        fputc(*p, f);
                else if (is_control(*p))
                        fprintf(f, "\\x%02x", *p);
                else
                        fputc(*p, f);
        if (quote)
                fputc('"', f);
}

void fputs_json_string(const char *s, FILE *f) {
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) (s ? s : ""); *p; p++)
                if (*p == '"' || *p == '\\')
                        fprintf(f, "\\%c", *p);
                else if (is_control(*p))
                        fprintf(f, "\\u%04x", *p);
                else
                        fputc(*p, f);
        fputc('"', f);
}

size_t json_escape(char *buf, size_t size, const char *s) {
        size_t n = 0;

        if (size < 3) {
                if (size > 0)
                        buf[0] = 0;
                return 0;
        }
        buf[n++] = '"';
        for (const unsigned char *p = (const unsigned char *) (s ? s : ""); *p; p++) {
                char e[8];
                size_t l;

                if (*p == '"' || *p == '\\')
                        l = (size_t) snprintf(e, sizeof e, "\\%c", *p);
                else if (is_control(*p))
                        l = (size_t) snprintf(e, sizeof e, "\\u%04x", *p);
                else {
                        e[0] = (char) *p;
                        l = 1;
                }
                if (n + l + 2 > size)   /* room for the closing quote and the NUL */
                        break;
                memcpy(buf + n, e, l);
                n += l;
        }
        buf[n++] = '"';
        buf[n] = 0;
        return n;
}
