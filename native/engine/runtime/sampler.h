// Token choice from one position's fp32 logits: greedy, or temperature / top-k / top-p sampling with
// a documented generator, plus the log-softmax values reported per step.
#pragma once

#include <cstdint>
#include <vector>

namespace vlac {

// xoshiro256** (Blackman & Vigna, 2018), its state seeded from one 64-bit seed through splitmix64 as
// its authors recommend. Same seed, same stream, on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t next();
  double uniform();  // [0, 1) from the top 53 bits

 private:
  uint64_t s_[4];
};

struct SamplingParams {
  double temperature = 0.0;  // 0 = greedy (argmax)
  int64_t top_k = 0;         // 0 = no top-k cut
  double top_p = 1.0;        // 1 = no nucleus cut
};

// The first index of the largest logit (torch.argmax's tie rule).
int32_t argmax(const float* logits, int64_t n);

// Greedy when temperature is 0 or top_k is 1; otherwise, in HF's order: logits / temperature, keep
// the top_k largest (every logit tied with the k-th stays), keep the smallest most-probable set whose
// probability reaches top_p (at least one), then draw from the renormalised softmax.
int32_t sample_token(const float* logits, int64_t n, const SamplingParams& params, Rng& rng);

// log(sum(exp(logits))) in double, max-subtracted.
double log_sum_exp(const float* logits, int64_t n);

struct TokenLogprob {
  int32_t id;
  double logprob;  // log_softmax of the raw fp32 logits (no temperature, no cuts)
};

// The k most probable tokens, best first (ties: the smaller id first); lse = log_sum_exp(logits).
std::vector<TokenLogprob> top_logprobs(const float* logits, int64_t n, int64_t k, double lse);

}  // namespace vlac
