/*
 * loadgen: the benchmark's load generator, one epoll loop, compiled by bench/run.py.
 *
 * It drives lairchat (TCP frames or WebSocket /ws) and the bare relays with the same
 * frames, so the two can be compared. Python could not keep up: a 500-member room
 * means hundreds of thousands of frames a second to read and parse.
 *
 *   loadgen run  --conns FILE [options]   connect, authenticate, sync, then send
 *   loadgen idle --conns FILE [options]   connect, authenticate, print a "ready" line,
 *                                         hold until stdin has a line or closes
 *
 * FILE lists the connections, one a line: "TOKEN ROOM_ID ROLE" (ROLE s = sender,
 * r = receiver; TOKEN "-" for the relays). Progress lines ({"event": ...}) and, last,
 * the result are JSON objects on stdout, one a line.
 *
 * Every sent message is a `send_message` frame whose 64-byte content carries
 * "B|sender|seq|t_ns|": deliveries are matched to senders and timed from the body.
 * Closed loop (--rate 0): each sender keeps --window messages unacknowledged (lairchat:
 * send_message_response; relay: the frame seen by any receiver). Open loop (--rate N):
 * N messages/s in total, round robin over the senders, timestamped with the scheduled
 * send time (no coordinated omission), then a drain that counts lost deliveries.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define CONTENT_LEN 64
#define SYNC_SENDER 999
#define RBUF_SIZE (256 * 1024)
#define EV_TIMER 0xfffffffeu
#define EV_STDIN 0xfffffffdu

enum { ST_CONNECTING, ST_UPGRADING, ST_AUTHING, ST_READY, ST_DEAD };
enum { PH_CONNECT, PH_SYNC, PH_RUN, PH_DRAIN, PH_DONE };

typedef struct {
    char *p;
    size_t len, off, cap;
} buf_t;

typedef struct {
    int fd, idx, state, sender, want_out, dirty, synced;
    char *token, *room;
    buf_t in, out;
    uint64_t sent, acked;
    char *prefix; /* JSON before the content, per sender */
    size_t prefix_len;
} conn_t;

static struct {
    const char *mode, *host, *server, *proto, *conns;
    int port, window, concurrency, expect, lair, ws;
    double rate, warmup, duration, drain, drain_max, connect_timeout;
} cfg = {"run", "127.0.0.1", "lair", "tcp", NULL, 0, 16, 32, 0, 1, 0, 0, 1, 5, 5, 60, 120};

static conn_t *conns;
static int nconns, nsenders;
static conn_t **senders;
static int ep, tfd;
static char rbuf[RBUF_SIZE];
static conn_t **dirty;
static int ndirty;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

/* results */
static uint64_t t_start_connect, t_ready, t_run, m_start, m_end, drain_deadline;
static uint64_t win_deliveries, win_acks, win_sent, total_deliveries, total_acks;
static uint64_t win_expected, win_received, errors, closed_conns, max_lag_ns;
static char first_error[300];
static uint32_t *lat;
static size_t nlat, cap_lat;
static uint16_t **counts; /* open loop: deliveries per (sender, seq) */
static size_t *counts_cap;
static uint64_t *first_win_seq, *last_win_seq; /* open loop: [first, last) in window */
static uint64_t next_k; /* open loop: messages scheduled so far */
static int next_connect, pending, phase, measuring;
static uint64_t t_done, t_hold, last_progress, last_sync;
static struct rusage ru0, ru1;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void die(const char *msg) {
    fprintf(stderr, "loadgen: %s (%s)\n", msg, strerror(errno));
    exit(2);
}

static void reserve(buf_t *b, size_t extra) {
    if (b->off && b->off == b->len) b->off = b->len = 0;
    if (b->len + extra <= b->cap) return;
    if (b->off) { /* compact first */
        memmove(b->p, b->p + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->len + extra <= b->cap) return;
    }
    size_t cap = b->cap ? b->cap : 512;
    while (cap < b->len + extra) cap *= 2;
    b->p = realloc(b->p, cap);
    if (!b->p) die("out of memory");
    b->cap = cap;
}

static void append(buf_t *b, const void *data, size_t n) {
    reserve(b, n);
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void mark_dirty(conn_t *c) {
    if (!c->dirty) {
        c->dirty = 1;
        dirty[ndirty++] = c;
    }
}

static void set_out(conn_t *c, int want) {
    if (c->want_out == want || c->state == ST_DEAD) return;
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.u32 = c->idx};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl");
    c->want_out = want;
}

static void kill_conn(conn_t *c, const char *why) {
    if (c->state == ST_DEAD) return;
    if (c->state != ST_READY) pending--;
    if (phase >= PH_SYNC) {
        closed_conns++;
        fprintf(stderr, "loadgen: connection %d closed during the run: %s\n", c->idx, why);
    } else {
        fprintf(stderr, "loadgen: connection %d failed while connecting: %s\n", c->idx, why);
        exit(3);
    }
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->state = ST_DEAD;
}

static void flush(conn_t *c) {
    c->dirty = 0;
    if (c->state == ST_DEAD || c->state == ST_CONNECTING) return;
    while (c->out.off < c->out.len) {
        ssize_t w = write(c->fd, c->out.p + c->out.off, c->out.len - c->out.off);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) break;
            kill_conn(c, strerror(errno));
            return;
        }
        c->out.off += w;
    }
    if (c->out.off == c->out.len) c->out.off = c->out.len = 0;
    set_out(c, c->out.len > 0);
}

/* -- framing ---------------------------------------------------------------------- */

static uint32_t xorshift(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

/* One text message / frame carrying `a` then `b` (either may be empty). */
static void send_frame2(conn_t *c, const char *a, size_t na, const char *b, size_t nb) {
    size_t n = na + nb;
    if (!cfg.ws) {
        uint32_t be = htonl((uint32_t)n);
        reserve(&c->out, 4 + n);
        memcpy(c->out.p + c->out.len, &be, 4);
        memcpy(c->out.p + c->out.len + 4, a, na);
        memcpy(c->out.p + c->out.len + 4 + na, b, nb);
        c->out.len += 4 + n;
    } else {
        unsigned char h[14];
        size_t hl = 0;
        h[hl++] = 0x81;
        if (n < 126) {
            h[hl++] = 0x80 | n;
        } else if (n < 65536) {
            h[hl++] = 0x80 | 126;
            h[hl++] = n >> 8;
            h[hl++] = n & 0xff;
        } else {
            h[hl++] = 0x80 | 127;
            for (int i = 7; i >= 0; i--) h[hl++] = (n >> (8 * i)) & 0xff;
        }
        uint32_t mask = xorshift();
        memcpy(h + hl, &mask, 4);
        unsigned char *m = h + hl;
        hl += 4;
        reserve(&c->out, hl + n);
        unsigned char *dst = (unsigned char *)c->out.p + c->out.len;
        memcpy(dst, h, hl);
        dst += hl;
        for (size_t i = 0; i < na; i++) dst[i] = a[i] ^ m[i & 3];
        for (size_t i = 0; i < nb; i++) dst[na + i] = b[i] ^ m[(na + i) & 3];
        c->out.len += hl + n;
    }
    mark_dirty(c);
}

static void send_text(conn_t *c, const char *s) { send_frame2(c, s, strlen(s), "", 0); }

/* A send_message frame from sender `s`, message `seq`, timestamp `ts`. */
static void send_message(conn_t *c, unsigned s, uint64_t seq, uint64_t ts) {
    char body[CONTENT_LEN + 3];
    int n = snprintf(body, sizeof body, "B|%03u|%010llu|%019llu|", s, (unsigned long long)seq,
                     (unsigned long long)ts);
    memset(body + n, 'x', CONTENT_LEN - n);
    body[CONTENT_LEN] = '"';
    body[CONTENT_LEN + 1] = '}';
    send_frame2(c, c->prefix, c->prefix_len, body, CONTENT_LEN + 2);
}

/* -- receiving ------------------------------------------------------------------------ */

static uint64_t digits(const char *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = v * 10 + (uint64_t)(p[i] - '0');
    return v;
}

static void count_delivery(unsigned s, uint64_t seq) {
    if (s >= (unsigned)nsenders) return;
    if (seq >= counts_cap[s]) {
        size_t cap = counts_cap[s] ? counts_cap[s] : 1024;
        while (cap <= seq) cap *= 2;
        counts[s] = realloc(counts[s], cap * sizeof(uint16_t));
        if (!counts[s]) die("out of memory");
        memset(counts[s] + counts_cap[s], 0, (cap - counts_cap[s]) * sizeof(uint16_t));
        counts_cap[s] = cap;
    }
    if (counts[s][seq] < 65535) counts[s][seq]++;
}

static void on_delivery(conn_t *c, const char *p, size_t n, uint64_t now) {
    const char *q = memmem(p, n, "\"content\":\"B|", 13);
    if (!q || (size_t)(q - p) + 11 + 38 > n) return;
    q += 11;
    unsigned s = (unsigned)digits(q + 2, 3);
    uint64_t seq = digits(q + 6, 10), ts = digits(q + 17, 19);
    if (s == SYNC_SENDER) {
        c->synced = 1;
        return;
    }
    if (phase < PH_RUN) return;
    total_deliveries++;
    last_progress = now;
    if (now >= m_start && now < m_end) win_deliveries++;
    if (!cfg.lair && s < (unsigned)nsenders && seq + 1 > senders[s]->acked)
        senders[s]->acked = seq + 1; /* relay: "acknowledged" once relayed */
    if (ts >= m_start && ts < m_end) {
        win_received++;
        if (nlat == cap_lat) {
            cap_lat = cap_lat ? cap_lat * 2 : 1 << 20;
            lat = realloc(lat, cap_lat * sizeof(uint32_t));
            if (!lat) die("out of memory");
        }
        uint64_t us = now > ts ? (now - ts) / 1000 : 0;
        lat[nlat++] = us > 0xffffffffu ? 0xffffffffu : (uint32_t)us;
    }
    if (cfg.rate > 0) count_delivery(s, seq);
}

static int has_type(const char *p, size_t n, const char *type) {
    size_t tl = strlen(type);
    return n > 9 + tl && memcmp(p, "{\"type\":\"", 9) == 0 && memcmp(p + 9, type, tl) == 0 &&
           p[9 + tl] == '"';
}

static void record_error(const char *p, size_t n) {
    errors++;
    if (!first_error[0]) {
        size_t k = n < sizeof first_error - 1 ? n : sizeof first_error - 1;
        memcpy(first_error, p, k);
        first_error[k] = 0;
        for (size_t i = 0; i < k; i++)
            if (first_error[i] == '"' || first_error[i] == '\\') first_error[i] = '\'';
    }
}

static int success(const char *p, size_t n) {
    size_t k = n < 120 ? n : 120;
    return memmem(p, k, "\"success\":true", 14) != NULL;
}

static void on_payload(conn_t *c, const char *p, size_t n, uint64_t now) {
    if (!cfg.lair) {
        on_delivery(c, p, n, now);
        return;
    }
    if (has_type(p, n, "message_received")) {
        on_delivery(c, p, n, now);
    } else if (has_type(p, n, "send_message_response")) {
        if (!success(p, n)) record_error(p, n);
        if (phase < PH_RUN) {
            c->acked = 1; /* the sync message */
            return;
        }
        c->acked++;
        total_acks++;
        if (now >= m_start && now < m_end) win_acks++;
    } else if (has_type(p, n, "authenticate_response")) {
        if (!success(p, n)) {
            record_error(p, n);
            fprintf(stderr, "loadgen: authentication failed: %s\n", first_error);
            exit(3);
        }
        if (c->state == ST_AUTHING) {
            c->state = ST_READY;
            pending--;
        }
    } else if (has_type(p, n, "error")) {
        record_error(p, n);
    }
}

static void on_connected(conn_t *c) {
    if (cfg.ws) {
        char req[2048];
        snprintf(req, sizeof req,
                 "GET /%s%s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n",
                 cfg.lair ? "ws?token=" : "", cfg.lair ? c->token : "", cfg.host, cfg.port);
        append(&c->out, req, strlen(req));
        mark_dirty(c);
        c->state = ST_UPGRADING;
    } else if (cfg.lair) {
        send_text(c, "{\"type\":\"client_hello\",\"version\":\"1.0\",\"client_name\":\"bench\"}");
        char auth[2048];
        snprintf(auth, sizeof auth, "{\"type\":\"authenticate\",\"token\":\"%s\"}", c->token);
        send_text(c, auth);
        c->state = ST_AUTHING;
    } else {
        c->state = ST_READY;
        pending--;
    }
}

/* Consume whole frames from p[0..n); return the bytes used. */
static size_t parse(conn_t *c, const char *p, size_t n, uint64_t now) {
    size_t off = 0;
    if (c->state == ST_UPGRADING) {
        const char *end = memmem(p, n, "\r\n\r\n", 4);
        if (!end) return 0;
        if (n < 12 || memcmp(p + 9, "101", 3) != 0) {
            fprintf(stderr, "loadgen: websocket upgrade refused: %.*s\n", (int)(end - p), p);
            exit(3);
        }
        off = end - p + 4;
        if (cfg.lair) {
            c->state = ST_AUTHING; /* ?token= : authenticate_response follows */
        } else {
            c->state = ST_READY;
            pending--;
        }
    }
    while (c->state != ST_DEAD) {
        size_t left = n - off;
        const unsigned char *u = (const unsigned char *)p + off;
        if (!cfg.ws) {
            if (left < 4) break;
            uint32_t len = ((uint32_t)u[0] << 24) | ((uint32_t)u[1] << 16) | (u[2] << 8) | u[3];
            if (left < 4 + (size_t)len) break;
            on_payload(c, p + off + 4, len, now);
            off += 4 + len;
        } else {
            if (left < 2) break;
            size_t hl = 2, len = u[1] & 0x7f;
            if (len == 126) {
                if (left < 4) break;
                len = (u[2] << 8) | u[3];
                hl = 4;
            } else if (len == 127) {
                if (left < 10) break;
                len = 0;
                for (int i = 0; i < 8; i++) len = (len << 8) | u[2 + i];
                hl = 10;
            }
            if (u[1] & 0x80) hl += 4; /* servers do not mask; skip the key if one did */
            if (left < hl + len) break;
            int opcode = u[0] & 0x0f;
            if (opcode == 1 || opcode == 2)
                on_payload(c, p + off + hl, len, now);
            else if (opcode == 8)
                kill_conn(c, "websocket close frame");
            off += hl + len;
        }
    }
    return off;
}

static void on_readable(conn_t *c) {
    for (int i = 0; i < 4 && c->state != ST_DEAD; i++) {
        ssize_t r = read(c->fd, rbuf, RBUF_SIZE);
        if (r < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN) kill_conn(c, strerror(errno));
            return;
        }
        if (r == 0) {
            kill_conn(c, "EOF");
            return;
        }
        uint64_t now = now_ns();
        const char *p = rbuf;
        size_t n = r;
        if (c->in.len > c->in.off) {
            append(&c->in, rbuf, r);
            p = c->in.p + c->in.off;
            n = c->in.len - c->in.off;
        }
        size_t used = parse(c, p, n, now);
        if (p == rbuf) {
            if (used < n) append(&c->in, p + used, n - used);
        } else {
            c->in.off += used;
            if (c->in.off == c->in.len) c->in.off = c->in.len = 0;
        }
        if (r < RBUF_SIZE) return;
    }
}

static void start_connect(conn_t *c) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) die("socket");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(cfg.port)};
    inet_pton(AF_INET, cfg.host, &sa.sin_addr);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS)
        die("connect");
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = c->idx};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl add");
    c->want_out = 1;
    c->state = ST_CONNECTING;
    pending++;
}

static void on_writable(conn_t *c) {
    if (c->state == ST_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            errno = err;
            kill_conn(c, strerror(err));
            return;
        }
        on_connected(c);
    }
    flush(c);
}

/* -- input ----------------------------------------------------------------------------- */

static void read_conns(void) {
    FILE *in = fopen(cfg.conns, "r");
    if (!in) die("cannot open --conns file");
    size_t cap = 1024;
    conns = calloc(cap, sizeof(conn_t));
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, in)) > 0) {
        char tok[4096], room[128], role[8];
        if (sscanf(line, "%4095s %127s %7s", tok, room, role) != 3) continue;
        if ((size_t)nconns == cap) {
            cap *= 2;
            conns = realloc(conns, cap * sizeof(conn_t));
            memset(conns + nconns, 0, (cap - nconns) * sizeof(conn_t));
        }
        conn_t *c = &conns[nconns];
        c->idx = nconns++;
        c->token = strdup(tok);
        c->room = strdup(room);
        c->sender = role[0] == 's' ? nsenders++ : -1;
    }
    free(line);
    fclose(in);
    if (nsenders > SYNC_SENDER) {
        fprintf(stderr, "loadgen: at most %d senders\n", SYNC_SENDER);
        exit(2);
    }
    senders = calloc(nsenders + 1, sizeof(conn_t *));
    for (int i = 0; i < nconns; i++) {
        conn_t *c = &conns[i];
        if (c->sender < 0) continue;
        senders[c->sender] = c;
        char pre[512];
        int n = snprintf(pre, sizeof pre,
                         "{\"type\":\"send_message\",\"target\":{\"type\":\"room\",\"room_id\":"
                         "\"%s\"},\"content\":\"",
                         c->room);
        c->prefix = strdup(pre);
        c->prefix_len = n;
    }
    dirty = calloc(nconns + 1, sizeof(conn_t *));
    counts = calloc(nsenders + 1, sizeof(uint16_t *));
    counts_cap = calloc(nsenders + 1, sizeof(size_t));
    first_win_seq = calloc(nsenders + 1, sizeof(uint64_t));
    last_win_seq = calloc(nsenders + 1, sizeof(uint64_t));
}

static void usage(void) {
    fprintf(stderr,
            "usage: loadgen run|idle --conns FILE --port N [--host H] [--server lair|relay]\n"
            "  [--proto tcp|ws] [--window 16] [--rate 0] [--warmup 1] [--duration 5]\n"
            "  [--drain 5] [--drain-max 60] [--expect deliveries-per-message]\n"
            "  [--concurrency 32]\n");
    exit(2);
}

static void parse_args(int argc, char **argv) {
    if (argc < 2) usage();
    cfg.mode = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) usage();
        i++;
        if (!strcmp(k, "--port")) cfg.port = atoi(v);
        else if (!strcmp(k, "--host")) cfg.host = v;
        else if (!strcmp(k, "--conns")) cfg.conns = v;
        else if (!strcmp(k, "--server")) cfg.server = v;
        else if (!strcmp(k, "--proto")) cfg.proto = v;
        else if (!strcmp(k, "--window")) cfg.window = atoi(v);
        else if (!strcmp(k, "--rate")) cfg.rate = atof(v);
        else if (!strcmp(k, "--warmup")) cfg.warmup = atof(v);
        else if (!strcmp(k, "--duration")) cfg.duration = atof(v);
        else if (!strcmp(k, "--drain")) cfg.drain = atof(v);
        else if (!strcmp(k, "--drain-max")) cfg.drain_max = atof(v);
        else if (!strcmp(k, "--expect")) cfg.expect = atoi(v);
        else if (!strcmp(k, "--concurrency")) cfg.concurrency = atoi(v);
        else if (!strcmp(k, "--connect-timeout")) cfg.connect_timeout = atof(v);
        else usage();
    }
    cfg.lair = !strcmp(cfg.server, "lair");
    cfg.ws = !strcmp(cfg.proto, "ws");
    if (!cfg.port || !cfg.conns) usage();
}

/* -- phases ------------------------------------------------------------------------------ */

static void arm_timer(uint64_t at) {
    struct itimerspec its = {0};
    its.it_value.tv_sec = at / 1000000000ull;
    its.it_value.tv_nsec = at % 1000000000ull;
    if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0) die("timerfd_settime");
}

/* Every sender sends one sync message (sender field SYNC_SENDER); the run starts once
 * every connection has received one (so every connection is subscribed: the relays
 * only learn of a connection when they accept it) and, on lairchat, every sync message
 * is acknowledged. The relays get the sync again every 200 ms until then. */
static void send_syncs(uint64_t now) {
    for (int s = 0; s < nsenders; s++)
        if (senders[s]->state == ST_READY) send_message(senders[s], SYNC_SENDER, s, now);
    last_sync = now;
}

static int all_synced(void) {
    for (int i = 0; i < nconns; i++) {
        conn_t *c = &conns[i];
        if (c->state == ST_DEAD) continue;
        if (!cfg.lair && nsenders == 1 && c == senders[0]) continue; /* hears no one */
        if (!c->synced) return 0;
    }
    if (cfg.lair)
        for (int s = 0; s < nsenders; s++)
            if (senders[s]->state == ST_READY && !senders[s]->acked) return 0;
    return 1;
}

static void start_run(uint64_t now) {
    phase = PH_RUN;
    t_run = now;
    m_start = now + (uint64_t)(cfg.warmup * 1e9);
    m_end = m_start + (uint64_t)(cfg.duration * 1e9);
    for (int s = 0; s < nsenders; s++) senders[s]->acked = senders[s]->sent = 0;
    if (cfg.rate > 0) arm_timer(now);
}

static void open_loop_sends(uint64_t now) {
    double step = 1e9 / cfg.rate;
    for (;;) {
        uint64_t at = t_run + (uint64_t)(next_k * step);
        if (at >= m_end) return;
        if (at > now) {
            arm_timer(at);
            return;
        }
        if (now - at > max_lag_ns) max_lag_ns = now - at;
        unsigned s = next_k % nsenders;
        conn_t *c = senders[s];
        if (c->state == ST_READY) {
            uint64_t seq = c->sent++;
            if (at >= m_start) {
                if (!first_win_seq[s] && !last_win_seq[s]) first_win_seq[s] = seq;
                last_win_seq[s] = seq + 1;
                win_sent++;
            }
            send_message(c, s, seq, at);
        }
        next_k++;
    }
}

static void closed_loop_sends(uint64_t now) {
    for (int s = 0; s < nsenders; s++) {
        conn_t *c = senders[s];
        if (c->state != ST_READY) continue;
        while (c->sent - c->acked < (uint64_t)cfg.window) {
            if (now >= m_start && now < m_end) win_sent++;
            send_message(c, s, c->sent++, now);
        }
    }
}

/* Percentiles over every expected delivery: one never received counts as infinitely
 * late (printed as -1), so losses cannot flatter the latency. */
static void pct(FILE *f, const char *name, double q) {
    size_t n = nlat;
    if (cfg.rate > 0 && win_expected > n) n = win_expected;
    size_t i = (size_t)(q * (n - 1));
    if (!n)
        fprintf(f, "\"%s\": null, ", name);
    else if (i >= nlat)
        fprintf(f, "\"%s\": -1, ", name);
    else
        fprintf(f, "\"%s\": %u, ", name, lat[i]);
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double cpu_seconds(const struct rusage *r) {
    return r->ru_utime.tv_sec + r->ru_utime.tv_usec / 1e6 + r->ru_stime.tv_sec +
           r->ru_stime.tv_usec / 1e6;
}

static void report(void) {
    uint64_t lost = 0, dup = 0;
    if (cfg.rate > 0 && cfg.expect > 0) {
        for (int s = 0; s < nsenders; s++) {
            for (uint64_t q = first_win_seq[s]; q < last_win_seq[s]; q++) {
                unsigned got = q < counts_cap[s] ? counts[s][q] : 0;
                if (got < (unsigned)cfg.expect) lost += cfg.expect - got;
                if (got > (unsigned)cfg.expect) dup += got - cfg.expect;
            }
        }
    }
    qsort(lat, nlat, sizeof(uint32_t), cmp_u32);
    double secs = cfg.duration;
    if (t_hold) secs = t_done > t_hold ? (t_done - t_hold) / 1e9 : 0;
    double cpu = cpu_seconds(&ru1) - cpu_seconds(&ru0);
    FILE *f = stdout;
    fprintf(f, "{\"mode\": \"%s\", \"server\": \"%s\", \"proto\": \"%s\", ", cfg.mode,
            cfg.server, cfg.proto);
    fprintf(f, "\"conns\": %d, \"senders\": %d, \"connect_s\": %.3f, ", nconns, nsenders,
            (t_ready - t_start_connect) / 1e9);
    fprintf(f, "\"duration_s\": %.3f, \"rate\": %.1f, \"window\": %d, ", secs, cfg.rate,
            cfg.window);
    fprintf(f, "\"deliveries\": %llu, \"deliveries_per_s\": %.1f, ",
            (unsigned long long)win_deliveries, win_deliveries / secs);
    fprintf(f, "\"acks\": %llu, \"acks_per_s\": %.1f, \"sent\": %llu, \"sent_per_s\": %.1f, ",
            (unsigned long long)win_acks, win_acks / secs, (unsigned long long)win_sent,
            win_sent / secs);
    fprintf(f, "\"loadgen_cpu_pct\": %.1f, ", secs > 0 ? 100.0 * cpu / secs : 0);
    fprintf(f, "\"expected\": %llu, \"received\": %llu, \"lost\": %llu, \"dup\": %llu, ",
            (unsigned long long)win_expected, (unsigned long long)win_received,
            (unsigned long long)lost, (unsigned long long)dup);
    fprintf(f, "\"drain_s\": %.3f, \"held_s\": %.3f, \"max_send_lag_us\": %.1f, ",
            m_end && t_done > m_end ? (t_done - m_end) / 1e9 : 0,
            t_hold && t_done > t_hold ? (t_done - t_hold) / 1e9 : 0, max_lag_ns / 1e3);
    fprintf(f, "\"closed\": %llu, \"errors\": %llu, \"first_error\": \"%s\", ",
            (unsigned long long)closed_conns, (unsigned long long)errors, first_error);
    fprintf(f, "\"latency_us\": {\"n\": %zu, ", nlat);
    pct(f, "p50", 0.50);
    pct(f, "p90", 0.90);
    pct(f, "p99", 0.99);
    pct(f, "p999", 0.999);
    if (cfg.rate > 0 && win_expected > nlat)
        fprintf(f, "\"max\": -1}}\n");
    else
        fprintf(f, "\"max\": %u}}\n", nlat ? lat[nlat - 1] : 0);
    fflush(f);
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    parse_args(argc, argv);
    read_conns();
    if (!nconns) usage();
    if (!strcmp(cfg.mode, "run") && !nsenders) usage();
    ep = epoll_create1(EPOLL_CLOEXEC);
    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct epoll_event tev = {.events = EPOLLIN, .data.u32 = EV_TIMER};
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);
    int idle = !strcmp(cfg.mode, "idle");

    struct epoll_event evs[512];
    t_start_connect = now_ns();
    uint64_t connect_deadline = t_start_connect + (uint64_t)(cfg.connect_timeout * 1e9);
    phase = PH_CONNECT;
    uint64_t now = t_start_connect;
    while (phase != PH_DONE) {
        /* connect more, a bounded number at a time (the server's accept queue is small) */
        while (phase == PH_CONNECT && next_connect < nconns && pending < cfg.concurrency)
            start_connect(&conns[next_connect++]);

        int timeout = 100; /* ms; phase deadlines below, open-loop sends on the timerfd */
        if (phase == PH_RUN) {
            uint64_t next = measuring ? m_end : m_start;
            uint64_t t = now_ns();
            timeout = next > t ? (int)((next - t) / 1000000 + 1) : 0;
            if (timeout > 100) timeout = 100;
        }
        int n = epoll_wait(ep, evs, 512, timeout);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        now = now_ns();
        for (int i = 0; i < n; i++) {
            uint32_t id = evs[i].data.u32;
            if (id == EV_TIMER) {
                uint64_t x;
                if (read(tfd, &x, sizeof x) < 0 && errno != EAGAIN) die("timerfd read");
                continue;
            }
            if (id == EV_STDIN) {
                getrusage(RUSAGE_SELF, &ru1);
                t_done = now_ns();
                phase = PH_DONE; /* a line or EOF on stdin: stop holding */
                continue;
            }
            conn_t *c = &conns[id];
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c);
            if (c->state != ST_DEAD && (evs[i].events & EPOLLOUT)) on_writable(c);
        }

        if (phase == PH_CONNECT) {
            if (next_connect == nconns && pending == 0) {
                t_ready = now;
                if (idle) {
                    printf("{\"ready\": %d, \"connect_s\": %.3f}\n", nconns,
                           (t_ready - t_start_connect) / 1e9);
                    fflush(stdout);
                    struct epoll_event sev = {.events = EPOLLIN, .data.u32 = EV_STDIN};
                    epoll_ctl(ep, EPOLL_CTL_ADD, 0, &sev);
                    getrusage(RUSAGE_SELF, &ru0);
                    t_hold = now;
                    phase = PH_SYNC; /* holding: nothing to sync, just drain input */
                } else {
                    phase = PH_SYNC;
                    send_syncs(now);
                }
            } else if (now > connect_deadline) {
                fprintf(stderr, "loadgen: %d of %d connections not ready after %.0f s\n",
                        pending + (nconns - next_connect), nconns, cfg.connect_timeout);
                exit(3);
            }
        } else if (phase == PH_SYNC && !idle) {
            if (all_synced()) {
                start_run(now);
            } else if (!cfg.lair && now - last_sync > 200000000ull) {
                send_syncs(now);
            } else if (now > t_ready + 30 * 1000000000ull) {
                fprintf(stderr, "loadgen: the sync message did not reach every connection\n");
                exit(3);
            }
        }
        if (phase == PH_RUN) {
            if (!measuring && now >= m_start) {
                measuring = 1;
                getrusage(RUSAGE_SELF, &ru0);
                printf("{\"event\": \"measure_start\"}\n");
                fflush(stdout);
            }
            if (cfg.rate > 0)
                open_loop_sends(now);
            else if (now < m_end)
                closed_loop_sends(now);
            if (now >= m_end) {
                getrusage(RUSAGE_SELF, &ru1);
                printf("{\"event\": \"measure_end\"}\n");
                fflush(stdout);
                if (cfg.rate > 0) {
                    phase = PH_DRAIN;
                    win_expected = win_sent * (uint64_t)cfg.expect;
                    drain_deadline = now + (uint64_t)(cfg.drain_max * 1e9);
                    last_progress = now;
                } else {
                    phase = PH_DONE;
                    t_done = now;
                }
            }
        }
        /* Drain until everything arrived, nothing arrived for --drain seconds, or
         * --drain-max: late deliveries are told apart from lost ones. */
        if (phase == PH_DRAIN &&
            (win_received >= win_expected || now > drain_deadline ||
             now > last_progress + (uint64_t)(cfg.drain * 1e9))) {
            phase = PH_DONE;
            t_done = now;
        }

        for (int i = 0; i < ndirty; i++) flush(dirty[i]);
        ndirty = 0;
    }
    report();
    return 0;
}
