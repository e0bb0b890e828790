/* vigild's entry point: parses argv into arg_* globals, loads the configuration, builds the
 * manager and runs its loop. No policy lives here. */
#include <getopt.h>
#include <limits.h>

#include "config-parse.h"
#include "log.h"
#include "manager.h"
#include "probe.h"

/* What the config may name: the probe kinds of probes/'s registry. */
static const ConfigKinds probe_kinds = { .probe_kind_at = probe_kind_spec_at };

static const char *arg_config = NULL;
static const char *arg_runtime_dir = NULL;
static const char *arg_state_dir = NULL;
static bool arg_foreground = false;
static bool arg_verbose = false;
static bool arg_check = false;

static void help(void) {
        printf("%s [OPTIONS...]\n"
               "%s --check [FILE]\n\n"
               "Self-healing supervisor for worker processes.\n\n"
               "  -c --config=FILE       Configuration file (default: %s)\n"
               "  -d --foreground        Log to stderr instead of the journal\n"
               "  -v --verbose           Log debug messages too\n"
               "     --runtime-dir=DIR   Override daemon.runtime_dir\n"
               "     --state-dir=DIR     Override daemon.state_dir\n"
               "     --check [FILE]      Validate the configuration and exit (0 valid, 1 invalid)\n"
               "  -h --help              Show this help\n"
               "     --version           Show the version\n",
               program_invocation_short_name, program_invocation_short_name, CONFIG_DEFAULT_PATH);
}

/* Returns 1 to go on, 0 to exit successfully, < 0 on a usage error. */
static int parse_argv(int argc, char *argv[]) {
        enum { ARG_RUNTIME_DIR = 0x100, ARG_STATE_DIR, ARG_CHECK, ARG_VERSION };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "foreground", no_argument, NULL, 'd' },
                { "verbose", no_argument, NULL, 'v' },
                { "runtime-dir", required_argument, NULL, ARG_RUNTIME_DIR },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "check", no_argument, NULL, ARG_CHECK },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "c:dvh", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        arg_config = optarg;
                        break;
                case 'd':
                        arg_foreground = true;
                        break;
                case 'v':
                        arg_verbose = true;
                        break;
                case ARG_RUNTIME_DIR:
                        arg_runtime_dir = optarg;
                        break;
                case ARG_STATE_DIR:
                        arg_state_dir = optarg;
                        break;
                case ARG_CHECK:
                        arg_check = true;
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
#ifdef VIGIL_TEST_HOOKS
                        printf("vigild %s +test-hooks\n", PACKAGE_VERSION);
#else
                        printf("vigild %s\n", PACKAGE_VERSION);
#endif
                        return 0;
                case '?':
                        return -EINVAL;
                default:
                        assert_not_reached();
                }

        /* "--check FILE" names the file to check; any other operand is a mistake. */
        if (arg_check && optind < argc && !arg_config)
                arg_config = argv[optind++];
        if (optind < argc) {
                fprintf(stderr, "%s: unexpected argument '%s'\n", program_invocation_short_name, argv[optind]);
                return -EINVAL;
        }
        if (!arg_config)
                arg_config = CONFIG_DEFAULT_PATH;
        return 1;
}

/* Command-line directories may be relative; the daemon stores absolute ones. */
static int override_dir(char **slot, const char *arg) {
        char *p;

        if (!arg)
                return 0;
        if (arg[0] == '/')
                p = strdup(arg);
        else {
                char cwd[PATH_MAX];

                if (!getcwd(cwd, sizeof(cwd)))
                        return -errno;
                if (asprintf(&p, "%s/%s", cwd, arg) < 0)
                        p = NULL;
        }
        if (!p)
                return -ENOMEM;
        free(*slot);
        *slot = p;
        return 0;
}

int main(int argc, char *argv[]) {
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_config_free_ Config *config = NULL;
        _cleanup_free_ char *error = NULL;
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? 2 : 0;

        log_setup(arg_foreground || arg_check ? LOG_TARGET_STDERR : LOG_TARGET_AUTO,
                  arg_verbose ? LOG_DEBUG : LOG_INFO);

        r = config_parse_file(arg_config, &probe_kinds, &config, &error);
        if (r < 0) {
                if (error)
                        fprintf(stderr, "%s\n", error);
                else
                        fprintf(stderr, "%s: %s\n", arg_config, strerror(-r));
                return 1;
        }
        if (arg_check) {
                printf("%s: valid, %zu worker(s)\n", arg_config, config->n_workers);
                return 0;
        }
        r = override_dir(&config->daemon.runtime_dir, arg_runtime_dir);
        if (r >= 0)
                r = override_dir(&config->daemon.state_dir, arg_state_dir);
        if (r < 0) {
                log_error_errno(r, "cannot resolve directory arguments: %m");
                return 1;
        }

        r = manager_new(TAKE_PTR(config), &m);
        if (r < 0)
                return 1;
        r = manager_startup(m);
        if (r < 0)
                return 1;
        r = manager_run(m);
        return r < 0 ? 1 : r;
}
