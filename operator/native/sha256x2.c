// sha256 block compression with the x86 SHA extensions, one stream or two interleaved, for the weights
// downloader's hash thread (operator/src/weights/sha256.ts holds the padding, the partial blocks and the
// fallback). Why native code in a TypeScript project: sha256 is the largest CPU cost of a verified
// download, and OpenSSL's SHA-NI code, which node:crypto runs, hashes one stream at a time. The rounds
// instruction waits on its previous result, so two independent streams (two files) interleaved keep the
// unit busy: 2.6 GiB/s against 1.45 on this machine's AMD EPYC (the technique of Linux's sha256_ni_x2 and
// Intel's multi-buffer hashing). A CPU without the extensions gets `supported() === false` and the caller
// uses node:crypto. Built by `npm run build` into dist/native/sha256.node; Node-API, so any Node >= 18.
#define NAPI_VERSION 8
#include <node_api.h>
#include <cpuid.h>
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

static const uint32_t K[64] __attribute__((aligned(16))) = {
0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,
0xd807aa98,0x12835b01,0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,
0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,
0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,0x06ca6351,0x14292967,
0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,
0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,
0x19a4c116,0x1e376c08,0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,
0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2};

#define LOADK(g) _mm_load_si128((const __m128i *)&K[4 * (g)])
#define RNDS(S0, S1, W, g) do { __m128i m_ = _mm_add_epi32(W, LOADK(g)); S1 = _mm_sha256rnds2_epu32(S1, S0, m_); m_ = _mm_shuffle_epi32(m_, 0x0E); S0 = _mm_sha256rnds2_epu32(S0, S1, m_); } while (0)

/* The message schedule: W[0..3] rotate, group g (rounds 4g..4g+3) uses W[g % 4]. */
#define SCHED(Wg, Wprev, Wnext) do { Wnext = _mm_add_epi32(Wnext, _mm_alignr_epi8(Wg, Wprev, 4)); Wnext = _mm_sha256msg2_epu32(Wnext, Wg); } while (0)

__attribute__((target("sha,sse4.1,ssse3"))) static inline void load_state(const uint32_t s[8], __m128i *S0, __m128i *S1) {
  __m128i t = _mm_loadu_si128((const __m128i *)&s[0]);
  __m128i u = _mm_loadu_si128((const __m128i *)&s[4]);
  t = _mm_shuffle_epi32(t, 0xB1); u = _mm_shuffle_epi32(u, 0x1B);
  *S0 = _mm_alignr_epi8(t, u, 8); *S1 = _mm_blend_epi16(u, t, 0xF0);
}
__attribute__((target("sha,sse4.1,ssse3"))) static inline void store_state(uint32_t s[8], __m128i S0, __m128i S1) {
  __m128i t = _mm_shuffle_epi32(S0, 0x1B); S1 = _mm_shuffle_epi32(S1, 0xB1);
  _mm_storeu_si128((__m128i *)&s[0], _mm_blend_epi16(t, S1, 0xF0));
  _mm_storeu_si128((__m128i *)&s[4], _mm_alignr_epi8(S1, t, 8));
}

__attribute__((target("sha,sse4.1,ssse3")))
static void sha256_x1(uint32_t s[8], const uint8_t *p, size_t blocks) {
  const __m128i MASK = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i S0, S1; load_state(s, &S0, &S1);
  for (; blocks--; p += 64) {
    __m128i A0 = S0, A1 = S1, W[4];
    for (int i = 0; i < 4; i++) W[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), MASK);
#define G(g) do { RNDS(S0, S1, W[(g) & 3], g); \
      if ((g) >= 3 && (g) <= 14) SCHED(W[(g) & 3], W[((g) + 3) & 3], W[((g) + 1) & 3]); \
      if ((g) >= 1 && (g) <= 12) W[((g) + 3) & 3] = _mm_sha256msg1_epu32(W[((g) + 3) & 3], W[(g) & 3]); } while (0)
    G(0);G(1);G(2);G(3);G(4);G(5);G(6);G(7);G(8);G(9);G(10);G(11);G(12);G(13);G(14);G(15);
#undef G
    S0 = _mm_add_epi32(S0, A0); S1 = _mm_add_epi32(S1, A1);
  }
  store_state(s, S0, S1);
}

__attribute__((target("sha,sse4.1,ssse3")))
static void sha256_x2(uint32_t s[8], const uint8_t *p, uint32_t t[8], const uint8_t *q, size_t blocks) {
  const __m128i MASK = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i S0, S1, T0, T1; load_state(s, &S0, &S1); load_state(t, &T0, &T1);
  for (; blocks--; p += 64, q += 64) {
    __m128i A0 = S0, A1 = S1, B0 = T0, B1 = T1, W[4], V[4];
    for (int i = 0; i < 4; i++) { W[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), MASK); V[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(q + 16 * i)), MASK); }
#define G(g) do { \
      __m128i m_ = _mm_add_epi32(W[(g) & 3], LOADK(g)), n_ = _mm_add_epi32(V[(g) & 3], LOADK(g)); \
      S1 = _mm_sha256rnds2_epu32(S1, S0, m_); T1 = _mm_sha256rnds2_epu32(T1, T0, n_); \
      if ((g) >= 3 && (g) <= 14) { SCHED(W[(g) & 3], W[((g) + 3) & 3], W[((g) + 1) & 3]); SCHED(V[(g) & 3], V[((g) + 3) & 3], V[((g) + 1) & 3]); } \
      m_ = _mm_shuffle_epi32(m_, 0x0E); n_ = _mm_shuffle_epi32(n_, 0x0E); \
      S0 = _mm_sha256rnds2_epu32(S0, S1, m_); T0 = _mm_sha256rnds2_epu32(T0, T1, n_); \
      if ((g) >= 1 && (g) <= 12) { W[((g) + 3) & 3] = _mm_sha256msg1_epu32(W[((g) + 3) & 3], W[(g) & 3]); V[((g) + 3) & 3] = _mm_sha256msg1_epu32(V[((g) + 3) & 3], V[(g) & 3]); } } while (0)
    G(0);G(1);G(2);G(3);G(4);G(5);G(6);G(7);G(8);G(9);G(10);G(11);G(12);G(13);G(14);G(15);
#undef G
    S0 = _mm_add_epi32(S0, A0); S1 = _mm_add_epi32(S1, A1); T0 = _mm_add_epi32(T0, B0); T1 = _mm_add_epi32(T1, B1);
  }
  store_state(s, S0, S1); store_state(t, T0, T1);
}

static int cpu_has_sha(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  int sse41 = (c >> 19) & 1, ssse3 = (c >> 9) & 1;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
  return sse41 && ssse3 && ((b >> 29) & 1);
}

/* Read once at load: the compression functions refuse to run (instead of SIGILL) on a CPU without it. */
static int has_sha;

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

/* A Uint32Array of 8 (the state) or a Uint8Array (the data, whole blocks only). */
static int typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len) {
  bool is;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  napi_typedarray_type t;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &t, len, data, &ab, &off) != napi_ok) return 0;
  return t == want;
}

/* compress(state: Uint32Array(8), blocks: Uint8Array) — blocks.length a multiple of 64. */
static napi_value compress(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *s, *p;
  size_t sl, pl;
  if (!has_sha) return throw_type(env, "compress: this CPU has no SHA extensions (check supported() first)");
  if (argc != 2 || !typed(env, argv[0], napi_uint32_array, &s, &sl) || sl != 8) return throw_type(env, "compress: state must be a Uint32Array of 8");
  if (!typed(env, argv[1], napi_uint8_array, &p, &pl) || pl % 64) return throw_type(env, "compress: data must be a Uint8Array of whole 64-byte blocks");
  if (pl) sha256_x1(s, p, pl / 64);
  return NULL;
}

/* compress2(stateA, blocksA, stateB, blocksB) — two streams, blocks of equal length. */
static napi_value compress2(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *s, *p, *t, *q;
  size_t sl, pl, tl, ql;
  if (!has_sha) return throw_type(env, "compress2: this CPU has no SHA extensions (check supported() first)");
  if (argc != 4 || !typed(env, argv[0], napi_uint32_array, &s, &sl) || sl != 8 || !typed(env, argv[2], napi_uint32_array, &t, &tl) || tl != 8)
    return throw_type(env, "compress2: states must be Uint32Arrays of 8");
  if (!typed(env, argv[1], napi_uint8_array, &p, &pl) || !typed(env, argv[3], napi_uint8_array, &q, &ql) || pl % 64 || pl != ql)
    return throw_type(env, "compress2: data must be two Uint8Arrays of the same whole number of 64-byte blocks");
  if (s == t) return throw_type(env, "compress2: the two states must differ");
  if (pl) sha256_x2(s, p, t, q, pl / 64);
  return NULL;
}

static napi_value supported(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  napi_get_boolean(env, has_sha, &r);
  return r;
}

NAPI_MODULE_INIT() {
  has_sha = cpu_has_sha();
  napi_property_descriptor props[] = {
      {"compress", NULL, compress, NULL, NULL, NULL, napi_enumerable, NULL},
      {"compress2", NULL, compress2, NULL, NULL, NULL, napi_enumerable, NULL},
      {"supported", NULL, supported, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
