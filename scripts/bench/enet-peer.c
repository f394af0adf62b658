/*
 * The ENet side of the rudp bench (scripts/bench/rudp-bench.ts): the same three workloads as
 * the Node peers (rudp-fw.ts), with the same sizes, checks and line protocol (common.ts), over
 * ENet 1.3 at its defaults (MTU 1400, one channel, no bandwidth limits). Built by the bench
 * with the system cc against Debian's libenet-dev (rudp-enet.ts); never part of `npm test`.
 *
 *   enet-peer server WORKLOAD [name=value...]
 *   enet-peer client WORKLOAD port=N [name=value...]
 *
 * WORKLOAD: bulk (bytes, window), pingpong (rounds, warmup), unrel (messages, window).
 * `limit=S`: the process ends itself after S seconds whatever happens (a bound on a hang).
 * A server prints `READY {"port":N}`; a client prints `RESULT {...}` when done. Both print
 * `FINAL {...}` (errors, CPU time) once their stdin ends, then exit.
 */
#include <enet/enet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define BLOCK (64 * 1024)
#define PING 64
#define UNREL 512
/* Unreliable workload: an echo this far past an unanswered message means that one is lost. */
#define REORDER 32
/* No echo for this long: every unanswered message is lost. */
#define STALL_MS 300

static int argc_;
static char **argv_;
static char errors[20][160];
static int nerrors;

static long param(const char *name, long fallback) {
  size_t n = strlen(name);
  for (int i = 3; i < argc_; i++)
    if (strncmp(argv_[i], name, n) == 0 && argv_[i][n] == '=') return atol(argv_[i] + n + 1);
  return fallback;
}

static void error(const char *fmt, ...) {
  if (nerrors >= 20) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(errors[nerrors++], sizeof errors[0], fmt, ap);
  va_end(ap);
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static double cpu_ms(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}

static void print_errors(void) {
  printf("\"errors\":[");
  for (int i = 0; i < nerrors; i++) {
    printf("%s\"", i ? "," : "");
    for (const char *c = errors[i]; *c; c++) putchar(*c == '"' || *c == '\\' ? '\'' : *c);
    putchar('"');
  }
  printf("]");
}

/* Whether stdin has ended (the orchestrator's "quit"). Never blocks. */
static int stdin_ended(void) {
  struct pollfd p = {0, POLLIN, 0};
  char buf[256];
  while (poll(&p, 1, 0) > 0) {
    ssize_t n = read(0, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return 1;
    if (n < 0) return 0;
  }
  return 0;
}

static void final_line(void) {
  printf("FINAL {\"cpuMs\":%.1f,", cpu_ms());
  print_errors();
  printf("}\n");
  fflush(stdout);
}

static const unsigned char *u8(const ENetPacket *p) { return p->data; }
static unsigned u32(const unsigned char *b) { return b[0] | b[1] << 8 | b[2] << 16 | (unsigned)b[3] << 24; }
static void put32(unsigned char *b, unsigned v) {
  b[0] = v;
  b[1] = v >> 8;
  b[2] = v >> 16;
  b[3] = v >> 24;
}

/* ---- the server: one echo/sink for all three workloads ------------------------------------- */

static int server(const char *workload) {
  ENetAddress addr = {0};
  enet_address_set_host_ip(&addr, "127.0.0.1");
  addr.port = 0;
  ENetHost *host = enet_host_create(&addr, 8, 1, 0, 0);
  if (!host) {
    fprintf(stderr, "enet_host_create failed\n");
    return 1;
  }
  ENetAddress bound;
  enet_socket_get_address(host->socket, &bound);
  printf("READY {\"port\":%u}\n", bound.port);
  fflush(stdout);
  const int bulk = strcmp(workload, "bulk") == 0;
  const long bytes = param("bytes", 0);
  long got = 0, blocks = 0;
  double checked = now_ms();
  for (;;) {
    ENetEvent ev;
    int r = enet_host_service(host, &ev, 1);
    if (r > 0 && ev.type == ENET_EVENT_TYPE_RECEIVE) {
      ENetPacket *in = ev.packet;
      if (bulk) {
        const unsigned char *b = u8(in);
        if (in->dataLength != BLOCK || u32(b + 4) != (unsigned)blocks || b[BLOCK - 1] != (blocks & 0xff))
          error("block %ld: wrong data (%zu bytes, header says block %u)", blocks, in->dataLength, in->dataLength >= 8 ? u32(b + 4) : 0);
        blocks++;
        got += in->dataLength;
        if (got == bytes) {
          unsigned char ok = nerrors == 0 ? 1 : 2;
          enet_peer_send(ev.peer, 0, enet_packet_create(&ok, 1, ENET_PACKET_FLAG_RELIABLE));
        }
      } else {
        /* An echo with the packet's own reliability; enet_packet_create copies, as rudp's send does. */
        enet_peer_send(ev.peer, 0, enet_packet_create(in->data, in->dataLength, in->flags & ENET_PACKET_FLAG_RELIABLE));
      }
      enet_packet_destroy(in);
    } else if (r < 0) {
      error("enet_host_service failed");
      break;
    }
    if (now_ms() - checked > 20) {
      checked = now_ms();
      if (stdin_ended()) break;
    }
  }
  enet_host_flush(host);
  final_line();
  enet_host_destroy(host);
  return 0;
}

/* ---- the client ---------------------------------------------------------------------------- */

static long inflight; /* bulk: reliable packets handed to ENet and not yet acknowledged */
static void on_free(ENetPacket *p) {
  (void)p;
  inflight--;
}

static ENetPeer *connect_to(ENetHost *host, long port) {
  ENetAddress addr = {0};
  enet_address_set_host_ip(&addr, "127.0.0.1");
  addr.port = (enet_uint16)port;
  ENetPeer *peer = enet_host_connect(host, &addr, 1, 0);
  ENetEvent ev;
  double until = now_ms() + 5000;
  while (peer && now_ms() < until) {
    if (enet_host_service(host, &ev, 10) > 0 && ev.type == ENET_EVENT_TYPE_CONNECT) return peer;
  }
  return NULL;
}

/* One event, or none within `ms`; handles nothing but RECEIVE (returned) and DISCONNECT. */
static ENetPacket *next_packet(ENetHost *host, unsigned ms, int *gone) {
  ENetEvent ev;
  int r = enet_host_service(host, &ev, ms);
  if (r > 0 && ev.type == ENET_EVENT_TYPE_RECEIVE) return ev.packet;
  if (r > 0 && ev.type == ENET_EVENT_TYPE_DISCONNECT) *gone = 1;
  if (r < 0) *gone = 1;
  return NULL;
}

static void bulk_client(ENetHost *host, ENetPeer *peer) {
  const long bytes = param("bytes", 0), window = param("window", 16);
  const long blocks = bytes / BLOCK;
  static unsigned char block[BLOCK];
  for (int i = 0; i < BLOCK; i++) block[i] = (i * 31 + 7) & 0xff;
  long sent = 0;
  int gone = 0, done = 0;
  double start = now_ms();
  while (!done && !gone) {
    while (sent < blocks && inflight < window) {
      put32(block, 0);
      put32(block + 4, sent);
      block[BLOCK - 1] = sent & 0xff;
      ENetPacket *p = enet_packet_create(block, BLOCK, ENET_PACKET_FLAG_RELIABLE);
      p->freeCallback = on_free;
      inflight++;
      sent++;
      enet_peer_send(peer, 0, p);
    }
    ENetPacket *in = next_packet(host, 1, &gone);
    if (!in) continue;
    if (in->dataLength != 1 || in->data[0] != 1) error("the server reported wrong data (ack %d)", in->data[0]);
    done = 1;
    enet_packet_destroy(in);
  }
  if (gone) error("disconnected before the end");
  printf("RESULT {\"ms\":%.3f,\"bytes\":%ld,", now_ms() - start, bytes);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void pingpong_client(ENetHost *host, ENetPeer *peer) {
  const long rounds = param("rounds", 1000), warmup = param("warmup", 0);
  double *rtt = calloc(rounds, sizeof(double));
  unsigned char out[PING];
  int gone = 0;
  double start = now_ms();
  for (long round = 0; round < warmup + rounds && !gone; round++) {
    if (round == warmup) start = now_ms();
    for (int j = 0; j < PING; j++) out[j] = (round * 7 + j) & 0xff;
    put32(out, round);
    double t0 = now_ms();
    enet_peer_send(peer, 0, enet_packet_create(out, PING, ENET_PACKET_FLAG_RELIABLE));
    ENetPacket *in = NULL;
    while (!in && !gone) in = next_packet(host, 1, &gone);
    if (!in) break;
    if (in->dataLength != PING || memcmp(in->data, out, PING) != 0) error("round %ld: wrong echo (%zu bytes)", round, in->dataLength);
    enet_packet_destroy(in);
    if (round >= warmup) rtt[round - warmup] = now_ms() - t0;
  }
  double ms = now_ms() - start;
  if (gone) error("disconnected before the end");
  qsort(rtt, rounds, sizeof(double), cmp_double);
  printf("RESULT {\"ms\":%.3f,\"rounds\":%ld,\"p50Ms\":%.4f,\"p99Ms\":%.4f,", ms, rounds, rtt[rounds / 2], rtt[(rounds * 99) / 100]);
  free(rtt);
}

static void unrel_client(ENetHost *host, ENetPeer *peer) {
  const long total = param("messages", 1000), window = param("window", 256);
  unsigned char *state = calloc(total, 1); /* 0 unanswered, 1 echoed, 2 lost */
  unsigned char out[UNREL];
  long sent = 0, got = 0, lost = 0, low = 0, late = 0, dup = 0, bad = 0, progress = -1;
  int gone = 0;
  memset(out, 0, sizeof out);
  double start = now_ms(), watched = start;
  while (got + lost < total && !gone) {
    while (sent < total && sent - got - lost < window) {
      put32(out, sent);
      out[UNREL - 1] = (sent * 13) & 0xff;
      enet_peer_send(peer, 0, enet_packet_create(out, UNREL, 0));
      sent++;
    }
    ENetPacket *in = next_packet(host, 1, &gone);
    if (in) {
      long seq = in->dataLength >= 4 ? (long)u32(in->data) : -1;
      if (in->dataLength != UNREL || seq < 0 || seq >= sent || in->data[UNREL - 1] != ((seq * 13) & 0xff)) bad++;
      else if (state[seq] == 1) dup++;
      else if (state[seq] == 2) late++;
      else {
        state[seq] = 1;
        got++;
        while (low < sent && (state[low] != 0 || low + REORDER < seq)) {
          if (state[low] == 0) state[low] = 2, lost++;
          low++;
        }
      }
      enet_packet_destroy(in);
    }
    if (now_ms() - watched >= STALL_MS) {
      watched = now_ms();
      if (got + lost == progress)
        for (; low < sent; low++)
          if (state[low] == 0) state[low] = 2, lost++;
      progress = got + lost;
    }
  }
  double ms = now_ms() - start;
  if (gone) error("disconnected before the end");
  if (bad || dup) error("%ld wrong and %ld duplicated echoes", bad, dup);
  printf("RESULT {\"ms\":%.3f,\"messages\":%ld,\"sent\":%ld,\"lost\":%ld,\"late\":%ld,", ms, got, total, lost, late);
  free(state);
}

static int client(const char *workload) {
  ENetHost *host = enet_host_create(NULL, 1, 1, 0, 0);
  ENetPeer *peer = host ? connect_to(host, param("port", 0)) : NULL;
  if (!peer) {
    error("no connection to the server");
    printf("RESULT {\"ms\":0,");
  } else if (strcmp(workload, "bulk") == 0)
    bulk_client(host, peer);
  else if (strcmp(workload, "pingpong") == 0)
    pingpong_client(host, peer);
  else
    unrel_client(host, peer);
  print_errors();
  printf("}\n");
  fflush(stdout);
  if (peer) {
    enet_peer_disconnect(peer, 0);
    int gone = 0;
    double until = now_ms() + 1000;
    while (!gone && now_ms() < until) {
      ENetPacket *in = next_packet(host, 10, &gone);
      if (in) enet_packet_destroy(in);
    }
  }
  while (!stdin_ended()) usleep(10000);
  final_line();
  if (host) enet_host_destroy(host);
  return 0;
}

int main(int argc, char **argv) {
  argc_ = argc;
  argv_ = argv;
  if (argc < 3) {
    fprintf(stderr, "usage: enet-peer server|client bulk|pingpong|unrel [name=value...]\n");
    return 2;
  }
  /* The orchestrator's pipes may have been left non-blocking by a Node parent. */
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) & ~O_NONBLOCK);
  alarm((unsigned)param("limit", 300));
  if (enet_initialize() != 0) {
    fprintf(stderr, "enet_initialize failed\n");
    return 1;
  }
  int rc = strcmp(argv[1], "server") == 0 ? server(argv[2]) : client(argv[2]);
  enet_deinitialize();
  return rc;
}
