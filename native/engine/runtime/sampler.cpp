#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/workspace.h"

namespace vlac {

namespace {

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// Orders token ids by logit, best first, the smaller id first among equals.
struct ByLogit {
  const float* logits;
  bool operator()(int32_t a, int32_t b) const {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  }
};

}  // namespace

Rng::Rng(uint64_t seed) {
  for (auto& s : s_) s = splitmix64(seed);
}

uint64_t Rng::next() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

int32_t argmax(const float* logits, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (logits[i] > logits[best]) best = i;
  return static_cast<int32_t>(best);
}

double log_sum_exp(const float* logits, int64_t n) {
  const double m = logits[argmax(logits, n)];
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(logits[i]) - m);
  return m + std::log(sum);
}

std::vector<TokenLogprob> top_logprobs(const float* logits, int64_t n, int64_t k, double lse) {
  k = std::min(k, n);
  if (k <= 0) return {};
  WorkspaceScope ws;  // a vocabulary of candidate ids per step: kept memory, not an allocation
  int32_t* ids = ws.take<int32_t>(static_cast<size_t>(n));
  std::iota(ids, ids + n, 0);
  std::partial_sort(ids, ids + k, ids + n, ByLogit{logits});
  std::vector<TokenLogprob> out;
  out.reserve(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i) out.push_back({ids[i], static_cast<double>(logits[ids[i]]) - lse});
  return out;
}

int32_t sample_token(const float* logits, int64_t n, const SamplingParams& p, Rng& rng) {
  if (p.temperature <= 0.0 || p.top_k == 1) return argmax(logits, n);
  // Candidates best first; with a top-k cut only the k best (and their ties) are sorted.
  WorkspaceScope ws;
  int32_t* ids = ws.take<int32_t>(static_cast<size_t>(n));
  std::iota(ids, ids + n, 0);
  int64_t keep = n;
  if (p.top_k > 0 && p.top_k < n) {
    std::partial_sort(ids, ids + p.top_k, ids + n, ByLogit{logits});
    const float kth = logits[ids[p.top_k - 1]];
    keep = p.top_k;
    // ties with the k-th logit survive (HF masks only logits < the k-th value)
    for (int64_t i = keep; i < n; ++i)
      if (logits[ids[i]] == kth) std::swap(ids[keep++], ids[i]);
  } else if (p.top_p < 1.0) {
    std::sort(ids, ids + n, ByLogit{logits});
  }
  const double inv_t = 1.0 / p.temperature, top = static_cast<double>(logits[argmax(logits, n)]) * inv_t;
  double* weight = ws.take<double>(static_cast<size_t>(keep));
  double total = 0.0;
  for (int64_t i = 0; i < keep; ++i) total += weight[i] = std::exp(static_cast<double>(logits[ids[i]]) * inv_t - top);
  if (p.top_p < 1.0) {
    double cumulative = 0.0;
    int64_t nucleus = 0;
    while (nucleus < keep) {
      cumulative += weight[nucleus++] / total;
      if (cumulative >= p.top_p) break;
    }
    keep = nucleus;
    total = std::accumulate(weight, weight + keep, 0.0);
  }
  const double u = rng.uniform() * total;
  double acc = 0.0;
  for (int64_t i = 0; i < keep; ++i) {
    acc += weight[i];
    if (u < acc) return ids[i];
  }
  return ids[keep - 1];
}

}  // namespace vlac
