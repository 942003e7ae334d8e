/*
 * fsync_latency.c: how long one durable write takes on the disk under a given directory, the
 * yardstick for the step benchmark (bench/steps.sh): the embedded engine syncs its SQLite store
 * once per checkpoint, so a step cannot be cheaper than one fdatasync of the store's disk.
 *
 *   fsync_latency DIR [--count N] [--pages P] [--overwrite]
 *
 * Writes P pages of 4,096 bytes with pwrite and then calls fdatasync, N times (default 200, one
 * page), into a fresh file in DIR (the store's directory, so the same filesystem and device),
 * and prints one JSON line with the latency of each write+fdatasync pair: min, median, mean,
 * p90, max in microseconds. By default every round appends (a growing file, as SQLite's WAL
 * grows between checkpoints: the sync also commits the new size); --overwrite rewrites the same
 * pages each round (a WAL reused after a checkpoint: data only). The file is removed at the end.
 * Plain C rather than dd or python so the figure is the system call's cost, not an
 * interpreter's, and so it builds with nothing but the C compiler the engine needs anyway.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int usage(void)
{
    fprintf(stderr, "usage: fsync_latency DIR [--count N] [--pages P] [--overwrite]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    long count = 200, pages = 1;
    int overwrite = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) count = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--pages") == 0 && i + 1 < argc) pages = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--overwrite") == 0) overwrite = 1;
        else if (argv[i][0] != '-' && !dir) dir = argv[i];
        else return usage();
    }
    if (!dir || count < 1 || count > 1000000 || pages < 1 || pages > 1024) return usage();

    char path[4096];
    if (snprintf(path, sizeof path, "%s/fsync_latency.%ld.tmp", dir, (long)getpid()) >= (int)sizeof path) {
        fprintf(stderr, "fsync_latency: directory name too long\n");
        return 1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "fsync_latency: cannot create %s: %s\n", path, strerror(errno));
        return 1;
    }
    size_t len = (size_t)pages * PAGE;
    unsigned char *buf = malloc(len);
    double *lat = malloc((size_t)count * sizeof *lat);
    int rc = 1;
    if (!buf || !lat) {
        fprintf(stderr, "fsync_latency: out of memory\n");
        goto out;
    }
    /* The file exists on disk before the first timed round, so its creation is not measured. */
    if (fsync(fd) != 0) {
        fprintf(stderr, "fsync_latency: fsync %s: %s\n", path, strerror(errno));
        goto out;
    }
    for (long i = 0; i < count; i++) {
        /* Different bytes every round: nothing below can skip an unchanged page. */
        memset(buf, (int)(i & 0xff), len);
        off_t off = overwrite ? 0 : (off_t)(i * (long)len);
        double t0 = now_us();
        size_t done = 0;
        while (done < len) {
            ssize_t w = pwrite(fd, buf + done, len - done, off + (off_t)done);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                fprintf(stderr, "fsync_latency: write %s: %s\n", path, w < 0 ? strerror(errno) : "short write");
                goto out;
            }
            done += (size_t)w;
        }
        if (fdatasync(fd) != 0) {
            fprintf(stderr, "fsync_latency: fdatasync %s: %s\n", path, strerror(errno));
            goto out;
        }
        lat[i] = now_us() - t0;
    }
    double sum = 0;
    for (long i = 0; i < count; i++) sum += lat[i];
    qsort(lat, (size_t)count, sizeof *lat, cmp_double);
    printf("{\"bench\":\"fsync_latency\",\"dir\":\"%s\",\"mode\":\"%s\",\"pages\":%ld,\"count\":%ld,"
           "\"min_us\":%.1f,\"median_us\":%.1f,\"mean_us\":%.1f,\"p90_us\":%.1f,\"max_us\":%.1f}\n",
           dir, overwrite ? "overwrite" : "append", pages, count, lat[0], lat[count / 2], sum / (double)count,
           lat[count * 9 / 10], lat[count - 1]);
    rc = 0;
out:
    free(buf);
    free(lat);
    if (close(fd) != 0 && rc == 0) {
        fprintf(stderr, "fsync_latency: close %s: %s\n", path, strerror(errno));
        rc = 1;
    }
    if (unlink(path) != 0) fprintf(stderr, "fsync_latency: cannot remove %s: %s\n", path, strerror(errno));
    return rc;
}
