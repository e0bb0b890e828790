/* The physical floor of supervision: fork/exec N copies of a program, wait for any of them to
 * die with waitpid() and fork/exec its replacement at once, with no backoff, no logging, no
 * state and no bookkeeping beyond a pid table. Whatever a real supervisor adds on top of this
 * is its own cost. Usage: floor [-v] N PROGRAM [ARG...]; -v makes the children with vfork()
 * instead of fork(), the cheaper way vigild uses too, for a floor on equal terms. Never exits
 * by itself; the benchmark kills it through its cgroup. A failed fork is reported on stderr
 * and leaves its slot empty: the floor does not retry. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int use_vfork;

static pid_t spawn(char *argv[]) {
        pid_t pid = use_vfork ? vfork() : fork();

        if (pid == 0) {
                execv(argv[0], argv);
                _exit(127);
        }
        /* A task limit (a pids cgroup, threads-max) makes fork fail with EAGAIN; said here, or
         * the benchmark would only see fewer workers than it asked for. */
        if (pid < 0)
                fprintf(stderr, "floor: %s: %s\n", use_vfork ? "vfork" : "fork", strerror(errno));
        return pid;
}

int main(int argc, char *argv[]) {
        pid_t *pids;
        long n;

        if (argc > 1 && strcmp(argv[1], "-v") == 0) {
                use_vfork = 1;
                argc--;
                argv++;
        }
        if (argc < 3 || (n = strtol(argv[1], NULL, 10)) <= 0) {
                fprintf(stderr, "usage: floor [-v] N PROGRAM [ARG...]\n");
                return 2;
        }
        pids = calloc((size_t) n, sizeof(pid_t));
        if (!pids)
                return 1;
        for (long i = 0; i < n; i++)
                pids[i] = spawn(argv + 2);

        for (;;) {
                pid_t pid = waitpid(-1, NULL, 0);

                if (pid < 0) {
                        if (errno == EINTR)
                                continue;
                        return 1;
                }
                for (long i = 0; i < n; i++)
                        if (pids[i] == pid) {
                                pids[i] = spawn(argv + 2);
                                break;
                        }
        }
}
