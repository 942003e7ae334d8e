/*
 * test_rt_console.c: the web console's escapes and event framing (console/html.c), without a
 * browser: what every value from the store goes through before it reaches a page, and the
 * bytes of a server-sent event. tests/console/run.sh checks the pages themselves, over HTTP and
 * in Chromium. And the graph's `dot` run beside dwf serve's reaper (util/proc.h).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "html.h"
#include "proc.h"
#include "tinytest.h"

static char *escaped(const char *s)
{
    cs_buf b = {0};
    cs_text(&b, s);
    return b.s ? b.s : strdup("");
}

static void test_hostile_name_stays_text(void)
{
    char *e = escaped("<script>alert(\"x\")</script>");
    TT_EQ_STR("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;", e);
    free(e);
    e = escaped("a' onmouseover='x' & b");
    TT_EQ_STR("a&#39; onmouseover=&#39;x&#39; &amp; b", e);
    free(e);
    e = escaped("&lt;already&gt;");
    TT_EQ_STR("&amp;lt;already&amp;gt;", e); /* an entity in a name is shown as typed, not decoded */
    free(e);
}

static void test_control_bytes_replaced(void)
{
    char *e = escaped("a\x01" "b\x7f" "c\td\ne\r");
    TT_EQ_STR("a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\td\ne\xef\xbf\xbd", e);
    free(e);
    cs_buf b = {0};
    cs_textn(&b, "x\0y", 3); /* a NUL inside a payload never ends the text early */
    TT_EQ_INT(1 + 3 + 1, (long long)b.len);
    TT_ASSERT(memcmp(b.s, "x\xef\xbf\xbdy", 5) == 0);
    cs_free(&b);
    e = escaped("caf\xc3\xa9 \xe2\x80\xae"); /* UTF-8 passes as it is */
    TT_EQ_STR("caf\xc3\xa9 \xe2\x80\xae", e);
    free(e);
}

static void test_url_component(void)
{
    cs_buf b = {0};
    cs_url(&b, "arn:aws:lambda:us-east-1:0:function:f:$LATEST/durable-execution/a b/\"<&>");
    TT_EQ_STR("arn%3Aaws%3Alambda%3Aus-east-1%3A0%3Afunction%3Af%3A%24LATEST"
              "%2Fdurable-execution%2Fa%20b%2F%22%3C%26%3E",
              b.s);
    cs_free(&b);
}

static void test_sse_framing(void)
{
    cs_buf b = {0};
    cs_sse(&b, "update", "{\"status\":\"RUNNING\"}");
    TT_EQ_STR("event: update\ndata: {\"status\":\"RUNNING\"}\n\n", b.s);
    b.len = 0;
    /* every kind of line break starts a data line: the event cannot be split or forged */
    cs_sse(&b, "end", "a\nevent: forged\r\ndata: x\rb");
    TT_EQ_STR("event: end\ndata: a\ndata: event: forged\ndata: data: x\ndata: b\n\n", b.s);
    b.len = 0;
    cs_sse(&b, NULL, "a\n"); /* a trailing break is an empty last line, as EventSource reads it back */
    TT_EQ_STR("data: a\ndata: \n\n", b.s);
    b.len = 0;
    cs_sse(&b, "ping", NULL);
    TT_EQ_STR("event: ping\ndata: \n\n", b.s);
    cs_free(&b);
}

static void test_buffer_grows(void)
{
    cs_buf b = {0};
    for (int i = 0; i < 10000; i++) cs_printf(&b, "%d,", i % 10);
    TT_EQ_INT(20000, (long long)b.len);
    TT_ASSERT(!b.oom && b.s[b.len] == '\0');
    cs_free(&b);
}

/* dwf serve reaps what its functions' processes leave behind with waitpid(-1) (emulator/
 * process.c, dwf__emu_reap), while a console request runs `dot` through dwf__proc_run in
 * another thread: a sweep that takes dot's exit status made the run fail with ECHILD, and the
 * page said the graph cannot be drawn (seen once in tests/console's browser check, under load).
 * A sweeper thread as serve's, looping, and 100 runs of `true`, every tenth waiting for a sweep
 * in between (so sweeps happen however the threads are scheduled, valgrind's too): every run
 * gets its own status. Without the lock, nearly every run failed. The wait is for the sweep
 * itself (a condition variable the sweeper signals), bounded only so that a hung test ends:
 * a slow or loaded machine just waits longer. */
static int sweeping = 1, sweeps;
static pthread_mutex_t sweep_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sweep_cv = PTHREAD_COND_INITIALIZER;
static void *sweeper(void *arg)
{
    (void)arg;
    while (__atomic_load_n(&sweeping, __ATOMIC_ACQUIRE)) {
        if (dwf__proc_sweep_begin()) {
            while (waitpid(-1, NULL, WNOHANG) > 0) {}
            pthread_mutex_lock(&sweep_mu);
            sweeps++;
            pthread_cond_broadcast(&sweep_cv);
            pthread_mutex_unlock(&sweep_mu);
            dwf__proc_sweep_end();
        }
        sched_yield();
    }
    return NULL;
}

/* Wait for a sweep after the ones seen so far: 1 when one came, 0 after 60 s (a hung test). */
static int wait_for_a_sweep(void)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until); /* the clock a default condition variable waits on */
    until.tv_sec += 60;
    pthread_mutex_lock(&sweep_mu);
    int seen = sweeps;
    while (sweeps == seen && pthread_cond_timedwait(&sweep_cv, &sweep_mu, &until) != ETIMEDOUT) {}
    int came = sweeps != seen;
    pthread_mutex_unlock(&sweep_mu);
    return came;
}

static void test_run_keeps_its_child_from_a_sweep(void)
{
    pthread_t t;
    TT_EQ_INT(0, pthread_create(&t, NULL, sweeper, NULL));
    char *argv[] = {"true", NULL};
    int failed = 0, waits = 0;
    for (int i = 0; i < 100; i++) {
        int st = -1;
        char err[256] = "";
        if (dwf__proc_run(argv, NULL, &st, err, sizeof err) != 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            if (!failed) printf("run %d: %s (status %d)\n", i, err, st);
            failed++;
        }
        if (i % 10 == 0) waits += wait_for_a_sweep();
    }
    __atomic_store_n(&sweeping, 0, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
    TT_EQ_INT(0, failed);
    TT_EQ_INT(10, waits); /* a sweep came between runs every time it was waited for */
}

int main(void)
{
    TT_RUN(test_hostile_name_stays_text);
    TT_RUN(test_control_bytes_replaced);
    TT_RUN(test_url_component);
    TT_RUN(test_sse_framing);
    TT_RUN(test_buffer_grows);
    TT_RUN(test_run_keeps_its_child_from_a_sweep);
    return TT_EXIT();
}
