// The op table: every op of ops.h once per instruction set. The reference table (ops/reference/) is
// plain C++ and is the oracle; the AVX2 and AVX-512 tables (ops/cpu/*_avx2.cpp, *_avx512.cpp, compiled
// for that set only) hold the fast kernels, and name the reference kernel for an op they do not
// specialise. ops.h's functions call the active table, resolved once: the best set the CPU and OS
// support, or VLAC_CPU_ISA=reference|avx2|avx512. native/tests/test_ops.cpp checks every entry of every
// supported table against the reference.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vlac::ops {

enum class Isa { Reference, Avx2, Avx512 };
constexpr int kIsaCount = 3;

const char* isa_name(Isa isa);  // "reference", "avx2", "avx512" (the VLAC_CPU_ISA spellings)
bool isa_supported(Isa isa);    // by this CPU and OS (cpu_features())
std::vector<Isa> supported_isas();

// The set spelled `name` as in VLAC_CPU_ISA; BadArgument when unknown or not supported here.
Isa isa_from_name(const std::string& name);

// The set ops.h runs: VLAC_CPU_ISA if set (BadArgument when unknown or unsupported here), else the
// best supported. Read once; set_active_isa replaces it (BadArgument when unsupported).
Isa active_isa();
void set_active_isa(Isa isa);

using LinearFn = void (*)(const float* x, int64_t M, int64_t K, const uint16_t* w_bf16, int64_t N,
                          const float* bias, float* y);
using LayerNormFn = void (*)(const float* x, int64_t rows, int64_t dim, const float* w, const float* b, float eps,
                             float* y);
using RmsNormFn = void (*)(const float* x, int64_t rows, int64_t dim, const float* w, float eps, float* y);
using GeluFn = void (*)(float* x, int64_t n);
using SwigluFn = void (*)(const float* gate, const float* up, float* out, int64_t n);
using AddFn = void (*)(float* h, const float* x, int64_t n);
using ScaleAddFn = void (*)(float* h, const float* x, const float* scale, int64_t rows, int64_t dim);
using RopeFn = void (*)(float* x, int64_t T, int64_t heads, int64_t head_dim, int64_t row_stride, const float* cos,
                        const float* sin);
using AttentionFn = void (*)(const float* q, int64_t q_stride, const float* k, const float* v, int64_t kv_stride,
                             int64_t Tq, int64_t Tk, int64_t q_heads, int64_t kv_heads, int64_t head_dim,
                             float scale, bool causal, int64_t q_pos0, float* out);
using Bf16ToF32Fn = void (*)(const uint16_t* src, float* dst, int64_t n);
using EmbeddingFn = void (*)(const uint16_t* table_bf16, int64_t dim, const int32_t* ids, int64_t n, float* out);
// Runs `iters` iterations of a register-only multiply-add loop on the calling thread; returns the
// FLOP it performed (the peak benchmark times it on every thread).
using FmaLoopFn = double (*)(int64_t iters);

struct OpTable {
  Isa isa;
  LinearFn linear;
  LinearFn linear_bf16;
  LayerNormFn layernorm;
  RmsNormFn rmsnorm;
  GeluFn gelu_erf;
  SwigluFn swiglu;
  AddFn add;
  ScaleAddFn scale_add;
  RopeFn rope;
  AttentionFn attention;
  Bf16ToF32Fn bf16_to_f32;
  EmbeddingFn embedding;
  FmaLoopFn fma_loop;
  FmaLoopFn bf16_dot_loop;  // the same with the bf16 dot product linear_bf16 runs; nullptr without one
};

// The table of one set (BadArgument when the CPU does not support it).
const OpTable& op_table(Isa isa);
const OpTable& active_op_table();

// Defined by each set's sources.
const OpTable& reference_op_table();
const OpTable& avx2_op_table();
const OpTable& avx512_op_table();

// One row per op of OpTable (the peak loop excepted), for listing and for the tests.
struct OpInfo {
  const char* name;                           // as in ops.h
  const void* (*kernel)(const OpTable& table);  // that op's entry of a table
};
const std::vector<OpInfo>& op_infos();
// Whether `isa` has a kernel of its own for the op (otherwise its table names the reference one).
bool is_specialised(const OpInfo& op, Isa isa);

}  // namespace vlac::ops
