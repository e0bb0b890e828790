/* Helpers shared by the cmocka unit tests. Include after <cmocka.h>. */
#pragma once

#include <dirent.h>

/* The number of entries in /proc/self/fd (the directory's own fd and . and .. included), for
 * comparing before and after a test: any difference is a leaked or lost descriptor. */
static inline unsigned count_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        unsigned n = 0;

        assert_non_null(d);
        while (readdir(d))
                n++;
        (void) closedir(d);
        return n;
}
