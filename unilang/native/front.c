/* unilang's native front: `.venv/bin/unilang`, compiled by `make setup`
 * (unilang/nativefront.py), with the Python launcher beside it.
 *
 * Python's own start takes ~10 ms before unilang's first line; an
 * up-to-date `unilang run` spends it waiting to start QEMU.  So this front,
 * for a plain `unilang run SPEC [-b B] [-o DIR] [--timeout N] [--accel A]`,
 * starts QEMU *paused* (`-S`, an HMP monitor on a socket pair: what
 * unilang.run.spawn(paused=True) does) on the image where
 * unilang.quickrun._guess_outdir says it most likely is, then execs the
 * Python launcher with UNILANG_FRONT_QEMU naming the child.  Python
 * (unilang.adopt) checks that child against its own command line and the
 * up-to-date check, and either resumes it or kills it: this front never
 * resumes anything.  Any other command line, or any doubt here (an odd
 * qemu.json, an unknown option, --forward, --help), execs Python at once
 * without a head start.
 *
 * It reads only <outdir>/qemu.json (the user's own output directory, trusted
 * as its run-qemu.sh is), the KVM device's openness, /proc/meminfo and
 * RLIMIT_AS (a guest bigger than the host gets no QEMU), the PATH entries
 * (to find QEMU) and /proc/self/fd (to close what the child must not
 * inherit).  Configuration
 * (the Python launcher's path, the default backend, the backend names) is
 * baked in at setup time by front_config.h. */

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "front_config.h" /* UNILANG_PY, DEFAULT_BACKEND, BACKENDS (NULL-terminated) */

#define ADOPT_ENV "UNILANG_FRONT_QEMU"
#define KVM_DEVICE_ENV "UNILANG_KVM_DEVICE"
#define QEMU "qemu-system-x86_64"
#define MAX_JSON 65536
#define MAX_ARGS 512
#define MAX_PATH 4096

static const char *const backends[] = {BACKENDS};

static void exec_python(char **argv) {
    execv(UNILANG_PY, argv);
    fprintf(stderr, "unilang: cannot execute %s: %s\n", UNILANG_PY, strerror(errno));
    _exit(127);
}

/* ------------------------------------------------------------ the command line */

struct run_args {
    const char *spec, *backend, *outdir, *accel; /* accel: NULL = auto */
};

static int backend_known(const char *b) {
    for (size_t i = 0; backends[i] != NULL; i++)
        if (strcmp(backends[i], b) == 0) return 1;
    return 0;
}

/* A plain timeout as Python's float() reads it here, >= 0.1 and finite; 0 otherwise
 * (only a wasted head start if Python would disagree). */
static int timeout_ok(const char *s) {
    if (*s == '\0') return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || *p == '.')) return 0;
    char *end;
    double v = strtod(s, &end);
    return *end == '\0' && v >= 0.1 && v < 1e300;
}

/* unilang.cliargs.parse("run", ...) without --forward: 1 when plain. */
static int parse_run(int argc, char **argv, struct run_args *o, char *backend_buf) {
    o->spec = o->outdir = o->accel = NULL;
    o->backend = DEFAULT_BACKEND;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *name = a, *raw = NULL;
        static const char *const flags[] = {"-b", "--backend", "-o", "--output", "--timeout",
                                            "--accel", "--forward", NULL};
        int known = 0;
        for (size_t f = 0; flags[f]; f++)
            if (strcmp(a, flags[f]) == 0) known = 1;
        char namebuf[16];
        if (known && i + 1 < argc) {
            raw = argv[++i];
        } else {
            const char *eq = strchr(a, '=');
            if (eq != NULL && a[0] == '-' && a[1] == '-' && (size_t)(eq - a) < sizeof namebuf) {
                memcpy(namebuf, a, (size_t)(eq - a));
                namebuf[eq - a] = '\0';
                int inline_known = 0;
                for (size_t f = 0; flags[f]; f++)
                    if (strcmp(namebuf, flags[f]) == 0) inline_known = 1;
                if (inline_known) {
                    name = namebuf;
                    raw = eq + 1;
                }
            }
            if (raw == NULL) {
                if (a[0] == '-' || o->spec != NULL) return 0;
                o->spec = a;
                continue;
            }
        }
        if (strcmp(name, "-b") == 0 || strcmp(name, "--backend") == 0) {
            size_t n = strlen(raw);
            if (n == 0 || n >= 64) return 0;
            for (size_t k = 0; k <= n; k++) {
                char c = raw[k];
                backend_buf[k] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
            }
            if (!backend_known(backend_buf)) return 0;
            o->backend = backend_buf;
        } else if (strcmp(name, "-o") == 0 || strcmp(name, "--output") == 0) {
            if (*raw == '\0') return 0;
            o->outdir = raw;
        } else if (strcmp(name, "--timeout") == 0) {
            if (!timeout_ok(raw)) return 0;
        } else if (strcmp(name, "--accel") == 0) {
            if (strcmp(raw, "auto") == 0) o->accel = NULL;
            else if (strcmp(raw, "kvm") == 0 || strcmp(raw, "tcg") == 0) o->accel = raw;
            else return 0;
        } else {
            return 0; /* --forward: Python alone */
        }
    }
    return o->spec != NULL && o->spec[0] != '\0' && o->backend[0] != '\0';
}

/* ------------------------------------------------------------ the output directory */

/* os.path.normpath (POSIX) of src into dst; 0 when it does not fit. */
static int normpath(const char *src, char *dst, size_t cap) {
    if (*src == '\0') return 0;
    size_t lead = 0;
    if (src[0] == '/') lead = (src[1] == '/' && src[2] != '/') ? 2 : 1;
    const char *parts[MAX_ARGS];
    size_t lens[MAX_ARGS], n = 0;
    const char *p = src;
    while (*p) {
        while (*p == '/') p++;
        const char *s = p;
        while (*p && *p != '/') p++;
        size_t len = (size_t)(p - s);
        if (len == 0 || (len == 1 && s[0] == '.')) continue;
        if (len == 2 && s[0] == '.' && s[1] == '.' &&
            !(n == 0 && lead == 0) && !(n > 0 && lens[n - 1] == 2 && parts[n - 1][0] == '.' &&
                                        parts[n - 1][1] == '.')) {
            if (n > 0) n--;
            continue;
        }
        if (n == MAX_ARGS) return 0;
        parts[n] = s;
        lens[n++] = len;
    }
    size_t at = 0;
    for (size_t i = 0; i < lead; i++) dst[at++] = '/';
    for (size_t i = 0; i < n; i++) {
        if (at + lens[i] + 2 > cap) return 0;
        if (i > 0) dst[at++] = '/';
        memcpy(dst + at, parts[i], lens[i]);
        at += lens[i];
    }
    if (at == 0) dst[at++] = '.';
    dst[at] = '\0';
    return 1;
}

/* unilang.quickrun._guess_outdir; 0 when no guess fits here. */
static int guess_outdir(const struct run_args *o, char *dst, size_t cap) {
    if (o->outdir != NULL) return normpath(o->outdir, dst, cap);
    const char *base = strrchr(o->spec, '/');
    base = base ? base + 1 : o->spec;
    size_t len = strlen(base);
    const char *dot = strrchr(base, '.');
    if (dot != NULL) { /* splitext: leading dots do not start an extension */
        for (const char *q = base; q < dot; q++)
            if (*q != '.') {
                len = (size_t)(dot - base);
                break;
            }
    }
    if (len == 0) return 0;
    int w = snprintf(dst, cap, "build/%.*s/%s", (int)len, base, o->backend);
    return w > 0 && (size_t)w < cap;
}

/* ------------------------------------------------------------ qemu.json */

/* A JSON array of plain strings: printable ASCII without escapes, JSON
 * whitespace between tokens.  Strings are cut in place in buf; 0 on anything
 * else (an escape, a byte >= 0x80, a number, nesting, trailing text). */
static int parse_argv_json(char *buf, size_t len, char **out, size_t *count, size_t max) {
    size_t i = 0, n = 0;
#define SKIP_WS while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || \
                                   buf[i] == '\r')) i++
    SKIP_WS;
    if (i >= len || buf[i++] != '[') return 0;
    SKIP_WS;
    if (i < len && buf[i] == ']') return 0; /* empty: no program */
    for (;;) {
        SKIP_WS;
        if (i >= len || buf[i++] != '"') return 0;
        size_t start = i;
        while (i < len && buf[i] != '"') {
            unsigned char c = (unsigned char)buf[i];
            if (c < 0x20 || c >= 0x7f || c == '\\') return 0;
            i++;
        }
        if (i >= len || n == max) return 0;
        buf[i++] = '\0';
        out[n++] = buf + start;
        SKIP_WS;
        if (i >= len) return 0;
        if (buf[i] == ',') {
            i++;
            continue;
        }
        if (buf[i++] != ']') return 0;
        break;
    }
    SKIP_WS;
#undef SKIP_WS
    *count = n;
    return i == len;
}

static ssize_t read_small_file(const char *path, char *buf, size_t cap) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return -1;
    struct stat st;
    ssize_t got = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        (size_t)st.st_size < cap) {
        size_t at = 0;
        for (;;) {
            ssize_t r = read(fd, buf + at, cap - at);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) break;
            if (r == 0) {
                got = (ssize_t)at;
                break;
            }
            at += (size_t)r;
            if (at == cap) break; /* grew meanwhile: no guess */
        }
    }
    close(fd);
    return got;
}

/* unilang.kvmprobe.with_accel: the -accel options replaced by one, where the first stood. */
static size_t with_accel(char **in, size_t n, const char *accel, char **out) {
    size_t k = 0;
    int placed = 0;
    for (size_t i = 0; i < n;) {
        if (strcmp(in[i], "-accel") == 0) {
            if (!placed) {
                out[k++] = "-accel";
                out[k++] = (char *)accel;
                placed = 1;
            }
            i += 2;
            continue;
        }
        out[k++] = in[i++];
    }
    if (!placed) {
        memmove(out + 3, out + 1, (k - 1) * sizeof *out);
        out[1] = "-accel";
        out[2] = (char *)accel;
        k += 2;
    }
    return k;
}

/* ------------------------------------------------------------ host memory */

/* Whether the guest's `-m NM` fits what unilang.run.memory_problem allows
 * (MemAvailable, RLIMIT_AS); 0 also when qemu.json's -m is not that form:
 * U0209 is Python's to report, and nothing is started before it. */
static int memory_fits(char **args, size_t n) {
    unsigned long long need = 0;
    int found = 0;
    for (size_t i = 1; i + 1 < n; i++) {
        if (strcmp(args[i], "-m") != 0) continue;
        const char *v = args[i + 1];
        size_t len = strlen(v);
        if (found || len < 2 || len > 9 || v[len - 1] != 'M') return 0;
        for (size_t k = 0; k + 1 < len; k++) {
            if (v[k] < '0' || v[k] > '9') return 0;
            need = need * 10 + (unsigned long long)(v[k] - '0');
        }
        need <<= 20;
        found = 1;
    }
    if (!found) return 0;
    char buf[8192];
    ssize_t len = -1;
    int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) { /* a /proc file: no size to trust, one read is the whole of it here */
        len = read(fd, buf, sizeof buf - 1);
        close(fd);
    }
    if (len > 0) {
        buf[len] = '\0';
        const char *at = strstr(buf, "\nMemAvailable:");
        if (at != NULL && need > strtoull(at + 14, NULL, 10) * 1024) return 0;
    }
    struct rlimit lim;
    if (getrlimit(RLIMIT_AS, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY && need > lim.rlim_cur)
        return 0;
    return 1;
}

/* ------------------------------------------------------------ QEMU */

static int executable(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && !S_ISDIR(st.st_mode) && access(path, X_OK) == 0;
}

/* unilang.fsutil.which(QEMU) made absolute; 0 when not found (Python then says so). */
static int find_qemu(char *dst, size_t cap) {
    const char *path = getenv("PATH");
    if (path == NULL || *path == '\0') return 0;
    char cand[MAX_PATH];
    for (const char *p = path;;) {
        const char *e = strchr(p, ':');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        int w = len ? snprintf(cand, sizeof cand, "%.*s/%s", (int)len, p, QEMU)
                    : snprintf(cand, sizeof cand, "%s", QEMU);
        if (w > 0 && (size_t)w < sizeof cand && executable(cand)) {
            if (cand[0] == '/') {
                if ((size_t)w >= cap) return 0;
                memcpy(dst, cand, (size_t)w + 1);
                return 1;
            }
            char cwd[MAX_PATH];
            if (getcwd(cwd, sizeof cwd) == NULL) return 0;
            char joined[2 * MAX_PATH + 2];
            snprintf(joined, sizeof joined, "%s/%s", cwd, cand);
            return normpath(joined, dst, cap);
        }
        if (e == NULL) return 0;
        p = e + 1;
    }
}

static const char *choose_accel(const char *requested) {
    if (requested != NULL && strcmp(requested, "tcg") == 0) return "tcg";
    const char *dev = getenv(KVM_DEVICE_ENV);
    if (dev == NULL || *dev == '\0') dev = "/dev/kvm";
    int fd = open(dev, O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        return "kvm";
    }
    /* `--accel kvm` without a device is Python's error to report: no head start */
    return requested != NULL ? NULL : "tcg";
}

static void write_errno(int fd, int err) {
    char num[16];
    int w = snprintf(num, sizeof num, "%d", err);
    if (w > 0) {
        ssize_t r = write(fd, num, (size_t)w);
        (void)r;
    }
}

/* Every descriptor from 3 up but keep1 and keep2 (as unilang.run._close_fds_except). */
static int close_others(int keep1, int keep2) {
    int again = 1;
    while (again) {
        again = 0;
        DIR *d = opendir("/proc/self/fd");
        if (d == NULL) return -1;
        int dfd = dirfd(d), fds[256], n = 0;
        struct dirent *ent;
        while ((ent = readdir(d)) != NULL && n < 256) {
            char *end;
            long fd = strtol(ent->d_name, &end, 10);
            if (*end != '\0' || ent->d_name[0] == '\0') continue;
            if (fd >= 3 && fd != dfd && fd != keep1 && fd != keep2) fds[n++] = (int)fd;
        }
        if (ent != NULL) again = 1;
        closedir(d);
        for (int i = 0; i < n; i++) close(fds[i]);
    }
    return 0;
}

/* The forked child: unilang.run._child. */
static void child(const char *exe, char **qargv, const char *cwd, pid_t parent, int err_w,
                  int monitor, int report) {
    int stops[] = {SIGTERM, SIGINT, SIGHUP};
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < 3; i++) {
        signal(stops[i], SIG_DFL);
        sigaddset(&set, stops[i]);
    }
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) goto fail;
    if (getppid() != parent) kill(getpid(), SIGKILL); /* the front died before it was armed */
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0 || dup2(null, 0) < 0 || dup2(err_w, 2) < 0) goto fail;
    int flags = fcntl(monitor, F_GETFD);
    if (flags < 0 || fcntl(monitor, F_SETFD, flags & ~FD_CLOEXEC) < 0) goto fail;
    if (close_others(monitor, report) != 0) goto fail;
    if (chdir(cwd) != 0) goto fail;
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    execv(exe, qargv);
fail:
    write_errno(report, errno);
    _exit(127);
}

/* Start QEMU paused; on success put the variable for Python and return 1. */
static int head_start(int argc, char **argv) {
    struct run_args o;
    char backend_buf[64], outdir[MAX_PATH], path[MAX_PATH + 16], qemu[MAX_PATH];
    static char json[MAX_JSON];
    char *items[MAX_ARGS], *qargv[MAX_ARGS + 16];
    size_t n;
    for (int fd = 0; fd < 3; fd++) /* a closed standard descriptor: Python handles it */
        if (fcntl(fd, F_GETFD) < 0) return 0;
    if (!parse_run(argc, argv, &o, backend_buf) || !guess_outdir(&o, outdir, sizeof outdir))
        return 0;
    int w = snprintf(path, sizeof path, "%s/qemu.json", outdir);
    if (w < 0 || (size_t)w >= sizeof path) return 0;
    ssize_t len = read_small_file(path, json, sizeof json);
    if (len <= 0 || !parse_argv_json(json, (size_t)len, items, &n, MAX_ARGS - 8)) return 0;
    if (!memory_fits(items, n)) return 0;
    const char *accel = choose_accel(o.accel);
    if (accel == NULL || !find_qemu(qemu, sizeof qemu)) return 0;
    size_t k = with_accel(items, n, accel, qargv);
    qargv[0] = qemu;

    int sv[2], err[2], rep[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return 0;
    if (pipe2(err, O_CLOEXEC) != 0) {
        close(sv[0]);
        close(sv[1]);
        return 0;
    }
    if (pipe2(rep, O_CLOEXEC) != 0) {
        close(sv[0]);
        close(sv[1]);
        close(err[0]);
        close(err[1]);
        return 0;
    }
    char chardev[64];
    snprintf(chardev, sizeof chardev, "socket,id=unilang-mon,fd=%d", sv[1]);
    qargv[k++] = "-S";
    qargv[k++] = "-chardev";
    qargv[k++] = chardev;
    qargv[k++] = "-mon";
    qargv[k++] = "chardev=unilang-mon,mode=readline";
    qargv[k] = NULL;

    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) child(qemu, qargv, outdir, parent, err[1], sv[1], rep[1]);
    close(sv[1]);
    close(err[1]);
    close(rep[1]);
    if (pid < 0) {
        close(sv[0]);
        close(err[0]);
        close(rep[0]);
        return 0;
    }
    /* these three go to Python: inheritable across its exec */
    int keep[3] = {sv[0], err[0], rep[0]};
    for (int i = 0; i < 3; i++) fcntl(keep[i], F_SETFD, 0);
    char value[96];
    snprintf(value, sizeof value, "%d,%d,%d,%d", (int)pid, sv[0], err[0], rep[0]);
    setenv(ADOPT_ENV, value, 1);
    return 1;
}

int main(int argc, char **argv) {
    unsetenv(ADOPT_ENV); /* only ever the one this process sets */
    if (argc >= 2 && strcmp(argv[1], "run") == 0) head_start(argc, argv);
    exec_python(argv);
    return 127;
}
