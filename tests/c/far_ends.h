/* The far ends of many connections, held by a child process: shared by the
 * 10,000-connection selector test and the selector benchmark, so that this
 * process holds only its own ends (half the fds, and the kernel work of the
 * other side out of its timings). */
#ifndef SL_FAR_ENDS_H
#define SL_FAR_ENDS_H

#include <errno.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

/* Accepts n connections on `listener` in a child that holds them until
 * `*control` (the write end it returns) is closed. Returns the child's pid,
 * or -1 with errno set. */
static pid_t far_ends_in_a_child(int listener, int n, int *control) {
    int p[2];
    if (pipe(p) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        struct rlimit lim;
        getrlimit(RLIMIT_NOFILE, &lim);
        for (int fd = 3; fd < (int)lim.rlim_cur && fd < 65536; fd++)
            if (fd != listener && fd != p[0]) close(fd);
        for (int got = 0; got < n;)
            if (accept(listener, NULL, NULL) >= 0) got++;
            else if (errno != EINTR) _exit(2);
        char byte;
        while (read(p[0], &byte, 1) != 0) {}
        _exit(0);
    }
    close(p[0]);
    *control = p[1];
    return pid;
}

#endif
