/* The exec probe: runs a command and judges it by the monitoring-plugins convention (exit 0 OK,
 * 1 WARNING, 2 CRITICAL, 3 UNKNOWN; the first output line is the message, the first item of
 * performance data after '|' the value), so that Nagios-style plugins run unchanged. The
 * command starts asynchronously (clone_vfork(), its own session, a small fixed environment,
 * optionally as another user) and is followed with event sources on its pidfd and its output
 * pipe; the probe owns the child's reaping (registered with the ProbeEnv before the loop runs
 * again) and leaves neither a process nor a zombie behind after a result or a cancel. The
 * child side makes system calls only. Non-logging; never blocks the loop, but for the moment a
 * vfork-style spawn waits for the command's execve(). */

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child-setup.h"
#include "clone.h"
#include "config-user.h"
#include "config.h"
#include "escape.h"
#include "probe-exec.h"
#include "strv.h"

#define EXEC_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define EXEC_LANG "C.UTF-8"

/* Output past what is kept is read and dropped up to this much in all; then the pipe is
 * closed, and a command that goes on writing meets EPIPE: a sample does bounded work. */
#define EXEC_READ_MAX (64U * 1024U)

/* Bounds of the parts of the evidence, escaped (a control character takes six bytes). */
#define EXEC_EVIDENCE_OUTPUT_MAX 1024U
#define EXEC_EVIDENCE_PERFDATA_MAX 512U
#define EXEC_UOM_MAX 16U

typedef struct ExecSettings {
        char **argv;
        ConfigUser user;      /* no name: the target's user (a worker's), else vigild's */
} ExecSettings;

/* A command under way or on its way out. Zeroed means idle. The descriptors belong to the
 * event sources (sd_event_source_set_io_fd_own()), so that there is one owner to free. */
typedef struct ExecState {
        pid_t pid;                      /* the command until it is reaped; 0: none */
        sd_event_source *child_source;  /* on its pidfd, while pid != 0 */
        sd_event_source *output_source; /* on the read end of its output pipe, until EOF */
        bool running;                   /* a result is owed: check() returned 1, no cancel yet */
        int code, status;               /* how it ended, once reaped (ExecOutcome) */
        size_t n_output, n_read;
        char output[PROBE_EXEC_OUTPUT_MAX];
} ExecState;

/* ---- Configuration ---- */

static void exec_settings_done(void *settings) {
        ExecSettings *s = settings;

        s->argv = strv_free(s->argv);
        config_user_done(&s->user);
}

static int parse_exec_command(ConfigParser *p, const config_setting_t *s, const ConfigKey *k,
                              void *settings) {
        _cleanup_strv_free_ char **argv = NULL;
        ExecSettings *e = settings;
        int r;

        r = config_keys_expect_argv(p, s, CONFIG_ARGV_MAX,
                                    "[ \"/usr/lib/nagios/plugins/check_procs\", \"-c\", \"1:\" ]", &argv);
        if (r < 0)
                return r;
        strv_free(e->argv);
        e->argv = TAKE_PTR(argv);
        return 0;
}

static const ConfigKey exec_keys[] = {
        CONFIG_KEY("command", parse_exec_command),
        /* Resolved now, so that the child never calls into NSS (it shares vigild's memory). */
        CONFIG_KEY_AT("user", config_user_parse, ExecSettings, user),
};

static int exec_check_config(ConfigParser *p, const config_setting_t *g, const ProbeConfig *pc,
                             bool cgroups_off) {
        const ExecSettings *s = pc->settings;

        if (!s->argv)
                return config_keys_fail(p, g, "missing required key \"command\"");
        return 0;
}

/* ---- Judging the output ---- */

/* The convention's exit statuses 0..3. */
static const ProbeStatus status_by_exit[] = { PROBE_OK, PROBE_WARNING, PROBE_CRITICAL, PROBE_UNKNOWN };

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

/* The length of the number at the start of s (n bytes): [+-]digits[.digits][e[+-]digits] or
 * [+-].digits[...]; 0 if there is none. No "inf", "nan" or hexadecimal, unlike strtod(). */
static size_t number_span(const char *s, size_t n) {
        size_t i = 0, digits = 0;

        if (i < n && (s[i] == '+' || s[i] == '-'))
                i++;
        for (; i < n && is_digit(s[i]); i++)
                digits++;
        if (i < n && s[i] == '.')
                for (i++; i < n && is_digit(s[i]); i++)
                        digits++;
        if (digits == 0)
                return 0;
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
                size_t j = i + 1, first;

                if (j < n && (s[j] == '+' || s[j] == '-'))
                        j++;
                for (first = j; j < n && is_digit(s[j]); j++)
                        ;
                if (j > first)
                        i = j;
        }
        return i;
}

/* s (n bytes) as a whole as a finite number, or NAN. */
static double parse_number(const char *s, size_t n) {
        char buf[64], *end;
        double v;

        if (n == 0 || n >= sizeof buf || number_span(s, n) != n)
                return NAN;
        memcpy(buf, s, n);
        buf[n] = 0;
        errno = 0;
        v = strtod(buf, &end);
        if (*end != 0 || errno != 0 || !isfinite(v))
                return NAN;
        return v;
}

/* The number a plugin's range is judged at: "10" (above 10), "10:" (below 10), "~:10", "5:10",
 * "@5:10" (inside). The upper bound where there is one, else the lower; NAN for none. */
static double parse_range(const char *s, size_t n) {
        const char *colon;

        if (n > 0 && s[0] == '@') {
                s++;
                n--;
        }
        colon = memchr(s, ':', n);
        if (colon) {
                const char *hi = colon + 1;
                size_t hn = n - (size_t) (hi - s);

                if (hn > 0 && !(hn == 1 && hi[0] == '~'))
                        return parse_number(hi, hn);
                n = (size_t) (colon - s);
        }
        if (n == 1 && s[0] == '~')
                return NAN;
        return parse_number(s, n);
}

typedef struct Perfdata {
        const char *raw;      /* the item as printed */
        size_t raw_size;
        double value;         /* NAN for "U" (undetermined) */
        double threshold;     /* crit, else warn; NAN: neither */
        char uom[EXEC_UOM_MAX];
} Perfdata;

static bool is_blank(char c) {
        return c == ' ' || c == '\t';
}

/* The next ';'-separated field of [*i, end) of s; advances *i past the separator. */
static void next_field(const char *s, size_t *i, size_t end, size_t *ret_start, size_t *ret_size) {
        const char *semi = memchr(s + *i, ';', end - *i);
        size_t stop = semi ? (size_t) (semi - s) : end;

        *ret_start = *i;
        *ret_size = stop - *i;
        *i = semi ? stop + 1 : end;
}

/* The first item of performance data in perf (n bytes): label=value[UOM][;warn[;crit[;min[;max]]]],
 * the label in single quotes if it holds blanks or '=' (a quote in it doubled). False: none, or
 * not in that form. */
static bool perfdata_parse_first(const char *perf, size_t n, Perfdata *ret) {
        size_t i = 0, start, end, f, fn, k;
        Perfdata d = { .value = NAN, .threshold = NAN };
        double warn, crit;

        while (i < n && is_blank(perf[i]))
                i++;
        start = i;
        if (i < n && perf[i] == '\'') {
                for (i++;; i++) {
                        if (i >= n)
                                return false;
                        if (perf[i] != '\'')
                                continue;
                        if (i + 1 < n && perf[i + 1] == '\'') {
                                i++;
                                continue;
                        }
                        break;
                }
                if (i == start + 1)
                        return false;
                i++;
        } else {
                while (i < n && perf[i] != '=' && !is_blank(perf[i]))
                        i++;
                if (i == start)
                        return false;
        }
        if (i >= n || perf[i] != '=')
                return false;
        i++;
        for (end = i; end < n && !is_blank(perf[end]); end++)
                ;

        next_field(perf, &i, end, &f, &fn);
        if (fn == 1 && perf[f] == 'U')
                d.value = NAN;
        else {
                k = number_span(perf + f, fn);
                if (k == 0)
                        return false;
                d.value = parse_number(perf + f, k);
                if (isnan(d.value) || fn - k >= sizeof d.uom)
                        return false;
                for (size_t u = f + k; u < f + fn; u++)
                        if (!((perf[u] >= 'A' && perf[u] <= 'Z') || (perf[u] >= 'a' && perf[u] <= 'z') ||
                              perf[u] == '%'))
                                return false;
                memcpy(d.uom, perf + f + k, fn - k);
                d.uom[fn - k] = 0;
        }
        next_field(perf, &i, end, &f, &fn);
        warn = parse_range(perf + f, fn);
        next_field(perf, &i, end, &f, &fn);
        crit = parse_range(perf + f, fn);
        d.threshold = !isnan(crit) ? crit : warn;
        d.raw = perf + start;
        d.raw_size = end - start;
        *ret = d;
        return true;
}

/* Drops a UTF-8 sequence cut short at the end of buf[0..*len). */
static void utf8_trim_incomplete(const char *buf, size_t *len) {
        size_t l = *len, p = l, need;
        unsigned char lead;

        while (p > 0 && l - p < 4 && ((unsigned char) buf[p - 1] & 0xc0) == 0x80)
                p--;
        if (p == 0)
                return;
        lead = (unsigned char) buf[p - 1];
        need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
        if (l - (p - 1) < need)
                *len = p - 1;
}

/* Appends s (n bytes) to the string buf (of size bytes, *len used) with control characters as
 * \xNN, as far as it fits, never cutting an escape or a UTF-8 sequence. */
static void append_escaped(char *buf, size_t size, size_t *len, const char *s, size_t n) {
        size_t l = *len;
        bool cut = false;

        for (size_t i = 0; i < n; i++) {
                unsigned char ch = (unsigned char) s[i];

                if (ch < 0x20 || ch == 0x7f) {
                        if (l + 4 >= size) {
                                cut = true;
                                break;
                        }
                        (void) snprintf(buf + l, 5, "\\x%02x", ch);
                        l += 4;
                } else {
                        if (l + 1 >= size) {
                                cut = true;
                                break;
                        }
                        buf[l++] = (char) ch;
                }
        }
        if (cut)
                utf8_trim_incomplete(buf, &l);
        buf[l] = 0;
        *len = l;
}

static const char *signal_name(int sig, char *buf, size_t size) {
        const char *n = sigabbrev_np(sig);

        if (n)
                (void) snprintf(buf, size, "SIG%s", n);
        else
                (void) snprintf(buf, size, "%d", sig);
        return buf;
}

void probe_exec_judge(const ExecOutcome *o, ProbeResult *r) {
        const char *out = o->output ?: "", *nl, *bar;
        size_t line, text, len = 0;
        char sig[32], first[EXEC_EVIDENCE_OUTPUT_MAX], esc[EXEC_EVIDENCE_OUTPUT_MAX];
        bool has_perf;
        Perfdata perf;

        assert(o->size <= PROBE_EXEC_OUTPUT_MAX);

        probe_result_init(r);
        nl = memchr(out, '\n', o->size);
        line = nl ? (size_t) (nl - out) : o->size;
        if (line > 0 && out[line - 1] == '\r')
                line--;
        bar = memchr(out, '|', line);
        text = bar ? (size_t) (bar - out) : line;
        while (text > 0 && is_blank(out[text - 1]))
                text--;
        has_perf = bar && perfdata_parse_first(bar + 1, line - (size_t) (bar + 1 - out), &perf);

        if (o->code == CLD_EXITED && o->status >= 0 && (size_t) o->status < ELEMENTSOF(status_by_exit)) {
                r->status = status_by_exit[o->status];
                if (text == 0)
                        (void) snprintf(r->message, sizeof r->message, "no output");
                len = strlen(r->message);
        } else {
                r->status = PROBE_UNKNOWN;
                if (o->code == CLD_EXITED)
                        (void) snprintf(r->message, sizeof r->message, "unexpected exit status %d",
                                        o->status);
                else if (o->code == CLD_KILLED || o->code == CLD_DUMPED)
                        (void) snprintf(r->message, sizeof r->message, "killed by signal %s%s",
                                        signal_name(o->status, sig, sizeof sig),
                                        o->code == CLD_DUMPED ? " (core dumped)" : "");
                else
                        (void) snprintf(r->message, sizeof r->message, "cannot tell how the command ended");
                len = strlen(r->message);
                if (text > 0 && len + 2 < sizeof r->message) {
                        memcpy(r->message + len, ": ", 3);
                        len += 2;
                }
        }
        append_escaped(r->message, sizeof r->message, &len, out, text);

        if (has_perf) {
                r->value = perf.value;
                r->threshold = perf.threshold;
        }

        if (o->code == CLD_EXITED)
                probe_result_evidence(r, "\"exit_status\":%d", o->status);
        else if (o->code == CLD_KILLED || o->code == CLD_DUMPED)
                probe_result_evidence(r, "\"exit_status\":null,\"signal\":\"%s\"",
                                      signal_name(o->status, sig, sizeof sig));
        else
                probe_result_evidence(r, "\"exit_status\":null");
        (void) snprintf(first, sizeof first, "%.*s", (int) MIN(line, sizeof first - 1), out);
        (void) json_escape(esc, sizeof esc, first);
        probe_result_evidence(r, "\"output\":%s", esc);
        if (has_perf) {
                char raw[EXEC_EVIDENCE_PERFDATA_MAX], uom[EXEC_UOM_MAX * 6 + 3];

                (void) snprintf(first, sizeof first, "%.*s", (int) MIN(perf.raw_size, sizeof first - 1),
                                perf.raw);
                (void) json_escape(raw, sizeof raw, first);
                (void) json_escape(uom, sizeof uom, perf.uom);
                probe_result_evidence(r, "\"perfdata\":%s,\"uom\":%s", raw, uom);
        }
        if (o->truncated)
                probe_result_evidence(r, "\"output_truncated\":true");
}

/* ---- The child: system calls only ---- */

typedef enum ExecStage {
        EXEC_STAGE_SESSION,
        EXEC_STAGE_SIGNALS,
        EXEC_STAGE_STDIO,
        EXEC_STAGE_GROUPS,
        EXEC_STAGE_USER,
        EXEC_STAGE_CWD,
        EXEC_STAGE_EXEC,
        _EXEC_STAGE_MAX,
        _EXEC_STAGE_INVALID = -EINVAL,
} ExecStage;

static const char *const exec_stage_table[_EXEC_STAGE_MAX] = {
        [EXEC_STAGE_SESSION] = "setsid",
        [EXEC_STAGE_SIGNALS] = "resetting signals",
        [EXEC_STAGE_STDIO] = "setting up stdio",
        [EXEC_STAGE_GROUPS] = "setgroups",
        [EXEC_STAGE_USER] = "changing user",
        [EXEC_STAGE_CWD] = "chdir",
        [EXEC_STAGE_EXEC] = "execve",
};

static const char *exec_stage_to_string(ExecStage s) {
        if (s < 0 || (size_t) s >= ELEMENTSOF(exec_stage_table))
                return NULL;
        return exec_stage_table[s];
}

typedef struct ExecChild {
        char *const *argv;
        char *const *envp;
        int stdin_fd, output_fd, errfd;
        bool has_user;
        uid_t uid;
        gid_t gid;
        const gid_t *groups;
        size_t n_groups;
} ExecChild;

static _noreturn_ void exec_child_run(ExecChild *c) {
        int r;

        if (child_setup_lift_fd(&c->errfd) < 0)
                _exit(127);
        /* A session (and process group) of its own: cancel kills the group, whatever the
         * command started, and no terminal of vigild's reaches it. */
        if (setsid() < 0)
                child_setup_fail(c->errfd, EXEC_STAGE_SESSION, errno);
        r = child_setup_reset_signals();
        if (r < 0)
                child_setup_fail(c->errfd, EXEC_STAGE_SIGNALS, -r);

        if (child_setup_lift_fd(&c->stdin_fd) < 0 || child_setup_lift_fd(&c->output_fd) < 0 ||
            dup2(c->stdin_fd, STDIN_FILENO) < 0 || dup2(c->output_fd, STDOUT_FILENO) < 0 ||
            dup2(c->output_fd, STDERR_FILENO) < 0)
                child_setup_fail(c->errfd, EXEC_STAGE_STDIO, errno);
        /* Only 0, 1 and 2 survive exec; the error pipe stays open until then. */
        if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
                child_setup_fail(c->errfd, EXEC_STAGE_STDIO, errno);

        if (c->has_user) {
                bool groups = false;

                r = child_setup_identity(c->uid, c->gid, c->groups, c->n_groups, &groups);
                if (r < 0)
                        child_setup_fail(c->errfd, groups ? EXEC_STAGE_GROUPS : EXEC_STAGE_USER, -r);
        }
        if (chdir("/") < 0)
                child_setup_fail(c->errfd, EXEC_STAGE_CWD, errno);

        execve(c->argv[0], c->argv, c->envp);
        child_setup_fail(c->errfd, EXEC_STAGE_EXEC, errno);
}

static int exec_child_main(void *arg) {
        exec_child_run(arg);
}

/* ---- The parent: starting, following, reaping ---- */

static int exec_build_env(const ProbeTarget *t, char ***ret) {
        _cleanup_strv_free_ char **env = NULL;
        char *e;
        int r;

        r = strv_extend(&env, "PATH=" EXEC_PATH);
        if (r < 0)
                return r;
        r = strv_extend(&env, "LANG=" EXEC_LANG);
        if (r < 0)
                return r;
        if (t->worker && t->instance >= 0) {
                if (asprintf(&e, "VIGIL_WORKER=%s", t->worker) < 0)
                        return -ENOMEM;
                r = strv_consume(&env, e);
                if (r < 0)
                        return r;
                if (asprintf(&e, "VIGIL_INSTANCE=%d", t->instance) < 0)
                        return -ENOMEM;
                r = strv_consume(&env, e);
                if (r < 0)
                        return r;
                if (t->pid > 0) {
                        if (asprintf(&e, "VIGIL_PID=%d", (int) t->pid) < 0)
                                return -ENOMEM;
                        r = strv_consume(&env, e);
                        if (r < 0)
                                return r;
                }
        }
        *ret = TAKE_PTR(env);
        return 0;
}

/* Waits for the child's execve() or its failure: EOF, or the record it wrote. The write end
 * is the child's alone, close-on-exec, so this returns as soon as the command runs. 1 with
 * the failure, 0 for a command that runs. */
static int exec_read_error(int errfd, ExecStage *ret_stage, int *ret_error) {
        int stage, error, r;

        r = child_setup_read_error(errfd, &stage, &error);
        if (r <= 0)
                return r;
        if (!exec_stage_to_string(stage))
                return -EBADMSG;
        *ret_stage = (ExecStage) stage;
        *ret_error = error;
        return 1;
}

static void exec_finish(ProbeCheck *c);

/* Forgets the child once reaped (or handed to the daemon). */
static void exec_forget_child(ProbeCheck *c) {
        ExecState *s = c->state;

        c->env->child_unwatch(c->env->userdata, s->pid);
        s->child_source = sd_event_source_disable_unref(s->child_source);
        s->pid = 0;
}

/* Reaps the child if it has ended; never waits. Whatever it left running in its session is
 * killed first, while the unreaped child still holds the session's id: its output would come
 * too late, and a probe must not leave processes behind, one more each sample. */
static void exec_reap(ProbeCheck *c) {
        ExecState *s = c->state;
        int fd, k;
        siginfo_t si = {};

        if (s->pid <= 0)
                return;
        fd = sd_event_source_get_io_fd(s->child_source);
        do
                k = waitid(P_PIDFD, (id_t) fd, &si, WEXITED | WNOHANG | WNOWAIT);
        while (k < 0 && errno == EINTR);
        if (k >= 0 && si.si_pid == 0)
                return;   /* still running */
        if (k >= 0) {
                (void) kill(-s->pid, SIGKILL);
                do
                        k = waitid(P_PIDFD, (id_t) fd, &si, WEXITED | WNOHANG);
                while (k < 0 && errno == EINTR);
        }
        if (k < 0 || si.si_pid == 0) {
                /* Reaped by someone else (it cannot be, while watched): what it did is lost. */
                s->code = 0;
                s->status = 0;
        } else {
                s->code = si.si_code;
                s->status = si.si_status;
        }
        exec_forget_child(c);
}

/* The daemon's call, when its orphan reaper met the child first. */
static void exec_reap_callback(void *userdata) {
        ProbeCheck *c = userdata;

        exec_reap(c);
        exec_finish(c);
}

static int on_child(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        ProbeCheck *c = userdata;

        exec_reap(c);
        exec_finish(c);
        return 0;
}

static int on_output(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        ProbeCheck *c = userdata;
        ExecState *s = c->state;
        char scratch[4096], *buf;
        size_t room;
        ssize_t n;

        if (s->n_output < sizeof s->output) {
                buf = s->output + s->n_output;
                room = sizeof s->output - s->n_output;
        } else {
                buf = scratch;
                room = sizeof scratch;
        }
        n = read(fd, buf, room);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n > 0) {
                if (buf != scratch)
                        s->n_output += (size_t) n;
                s->n_read += (size_t) n;
                if (s->n_read < EXEC_READ_MAX)
                        return 0;
        }
        /* EOF, an error, or enough read: nothing more is waited for on the pipe. */
        s->output_source = sd_event_source_disable_unref(s->output_source);
        exec_finish(c);
        return 0;
}

/* Delivers the result once the command is reaped and its output is read. Last thing done:
 * the runner may act on the result. */
static void exec_finish(ProbeCheck *c) {
        ExecState *s = c->state;
        ProbeResult r;

        if (!s->running || s->pid > 0 || s->output_source)
                return;
        s->running = false;
        probe_exec_judge(&(const ExecOutcome) {
                .code = s->code,
                .status = s->status,
                .output = s->output,
                .size = s->n_output,
                .truncated = s->n_read > s->n_output,
        }, &r);
        probe_check_done(c, &r);
}

/* Kills the command and whatever it started in its session. Only while the command is not
 * reaped: until then neither its pid nor its session's id (the same) can be reused. */
static void exec_kill(ExecState *s) {
        if (s->pid <= 0)
                return;
        (void) kill(-s->pid, SIGKILL);
        /* Its plain pid where the pidfd call is missing (valgrind) is as safe, for that reason. */
        if (pidfd_send_signal(sd_event_source_get_io_fd(s->child_source), SIGKILL, NULL, 0) < 0 &&
            errno == ENOSYS)
                (void) kill(s->pid, SIGKILL);
}

static void exec_cancel(ProbeCheck *c) {
        ExecState *s = c->state;

        s->running = false;
        s->output_source = sd_event_source_disable_unref(s->output_source);
        exec_kill(s);
        /* The pidfd's source stays until the zombie is reaped; then the child is unwatched. */
        exec_reap(c);
}

static void exec_reset(ProbeCheck *c, bool done) {
        ExecState *s = c->state;

        /* Nothing is learnt of a target between samples: only done has work to do. */
        if (!done)
                return;
        exec_cancel(c);
        if (s->pid > 0)
                /* Killed but not dead yet, and the state goes now: vigild reaps the children it
                 * does not know, so unwatching hands it over without waiting. */
                exec_forget_child(c);
}

static int exec_cannot_start(const ExecSettings *set, ProbeResult *ret, const char *what, int error) {
        ret->status = PROBE_UNKNOWN;
        probe_result_message(ret, "cannot start %s: %s%s%s", set->argv[0], what ?: "", what ? ": " : "",
                             strerror(error));
        return 0;
}

static int exec_check(ProbeCheck *c, const ProbeTarget *t, ProbeResult *ret) {
        const ExecSettings *set = c->settings;
        ExecState *s = c->state;
        _cleanup_close_ int devnull = -EBADF, out_r = -EBADF, out_w = -EBADF, err_r = -EBADF, err_w = -EBADF,
                            pidfd = -EBADF;
        _cleanup_strv_free_ char **env = NULL;
        ExecStage stage = EXEC_STAGE_EXEC;
        ExecChild child;
        int fds[2], error = 0, r;
        pid_t pid;

        if (!c->env || !c->env->event || !c->env->child_watch || !c->env->child_unwatch)
                return -EOPNOTSUPP;
        /* One command per target at a time: the one killed last may still be on its way out. */
        if (s->pid > 0 || s->output_source)
                return -EBUSY;

        r = exec_build_env(t, &env);
        if (r < 0)
                return r;
        if (pipe2(fds, O_CLOEXEC) < 0)
                return exec_cannot_start(set, ret, "pipe", errno);
        out_r = fds[0];
        out_w = fds[1];
        /* Only our end: the command's stdout blocks as a pipe should. */
        if (fcntl(out_r, F_SETFL, O_NONBLOCK) < 0)
                return -errno;
        if (pipe2(fds, O_CLOEXEC) < 0)
                return exec_cannot_start(set, ret, "pipe", errno);
        err_r = fds[0];
        err_w = fds[1];
        devnull = open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (devnull < 0)
                return exec_cannot_start(set, ret, "/dev/null", errno);

        child = (ExecChild) {
                .argv = set->argv,
                .envp = env,
                .stdin_fd = devnull,
                .output_fd = out_w,
                .errfd = err_w,
        };
        /* The probe's own user, else the worker's, else vigild's. */
        if (set->user.name) {
                child.has_user = true;
                child.uid = set->user.uid;
                child.gid = set->user.gid;
                child.groups = set->user.groups;
                child.n_groups = set->user.n_groups;
        } else if (t->has_user) {
                child.has_user = true;
                child.uid = t->uid;
                child.gid = t->gid;
                child.groups = t->groups;
                child.n_groups = t->n_groups;
        }

        pid = clone_vfork(exec_child_main, &child, -EBADF, false, &pidfd);
        if (pid == -ENOSYS) {
                /* No clone3 (an old kernel, valgrind): a copy of vigild, doing the same. */
                pid = clone_fork(&pidfd);
                if (pid == 0)
                        exec_child_run(&child);
        }
        if (pid < 0)
                return exec_cannot_start(set, ret, NULL, -pid);
        if (pidfd < 0) {
                /* A kernel without CLONE_PIDFD (before 5.2): the child cannot be followed. It is
                 * not watched, so vigild reaps it. */
                (void) kill(pid, SIGKILL);
                return -EOPNOTSUPP;
        }

        /* vigild reaps only from loop callbacks, and the loop does not run before this: the
         * child is ours from its first instant. */
        r = c->env->child_watch(c->env->userdata, pid, exec_reap_callback, c);
        if (r < 0) {
                (void) pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
                return r;   /* not watched: vigild reaps it */
        }
        r = sd_event_add_io(c->env->event, &s->child_source, pidfd, EPOLLIN, on_child, c);
        if (r < 0) {
                (void) pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
                c->env->child_unwatch(c->env->userdata, pid);
                return r;
        }
        (void) sd_event_source_set_io_fd_own(s->child_source, true);
        TAKE_FD(pidfd);
        (void) sd_event_source_set_description(s->child_source, "probe-exec-child");
        s->pid = pid;
        s->code = s->status = 0;

        err_w = safe_close(err_w);
        out_w = safe_close(out_w);
        r = exec_read_error(err_r, &stage, &error);
        if (r != 0) {
                /* It never ran (and is exiting): the pidfd's source reaps it. */
                exec_kill(s);
                exec_reap(c);
                if (r < 0)
                        return r;
                return exec_cannot_start(set, ret,
                                         stage == EXEC_STAGE_EXEC ? NULL : exec_stage_to_string(stage), error);
        }

        r = sd_event_add_io(c->env->event, &s->output_source, out_r, EPOLLIN, on_output, c);
        if (r < 0) {
                exec_kill(s);
                exec_reap(c);
                return r;
        }
        (void) sd_event_source_set_io_fd_own(s->output_source, true);
        TAKE_FD(out_r);
        (void) sd_event_source_set_description(s->output_source, "probe-exec-output");
        s->n_output = s->n_read = 0;
        s->running = true;
        return 1;
}

const ProbeOps probe_exec_ops = {
        .spec = {
                .kind = "exec",
                .keys = exec_keys,
                .n_keys = ELEMENTSOF(exec_keys),
                .settings_size = sizeof(ExecSettings),
                .settings_done = exec_settings_done,
                .check = exec_check_config,
                .scopes = PROBE_SCOPE_HOST | PROBE_SCOPE_INSTANCE,
                .threshold_units = 0,
                .default_every = 60 * USEC_PER_SEC,
                .default_timeout = 10 * USEC_PER_SEC,
        },
        .category = CATEGORY_TRANSIENT,
        .state_size = sizeof(ExecState),
        .timeout_status = PROBE_UNKNOWN,
        .check = exec_check,
        .cancel = exec_cancel,
        .reset = exec_reset,
};
