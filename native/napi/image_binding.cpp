// Image preprocessing for JS (src/images.ts decodes with sharp; the pixels are made here):
//   preprocess(rgb: Uint8Array, width, height, mode: 'vlac' | 'internvl', maxTiles, tileSize,
//              label?: string, pixels = true) -> Promise<{ tiles, size, uint8: Uint8Array, pixels?: Float32Array }>
//       uint8: tiles x size x size x 3 (HWC RGB); pixels: tiles x 3 x size x size, normalised fp32,
//       made only when asked (the model calls take the uint8 tiles).
//       Runs on a libuv worker thread (an InternVL grid at 12 tiles takes tens of milliseconds).
//       The input copy and both results are PageBuffers (common/page_buffer.h): the results live
//       until V8 collects them, and malloc'd they would fragment the worker threads' arenas.
//   toRgb(data: Uint8Array, width, height, channels: 1..4, label?) -> Uint8Array (RGB, alpha dropped)
//   cmykToRgb(cmyk: Uint8Array, width, height, label?) -> Uint8Array (Pillow's plain formula)
#include <cstring>
#include <memory>

#include "common/page_buffer.h"
#include "image/color.h"
#include "image/preprocess.h"
#include "napi/bindings.h"
#include "napi/errors.h"

namespace vlac::napi {

namespace {

std::string arg_label(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || info[i].IsUndefined()) return "image";
  return arg_string(info, i, "label");
}

// A width or height: an integer (else BadArgument); one outside int range is the image's fault.
int arg_dimension(const Napi::CallbackInfo& info, size_t i, const char* name, const std::string& label) {
  const int64_t v = arg_int(info, i, name);
  if (v < 0 || v > kMaxImageSide) {
    throw make_error(info.Env(), "ERR_VLAC_BAD_IMAGE",
                     label + ": " + name + " " + std::to_string(v) + " is outside 1.." +
                         std::to_string(kMaxImageSide));
  }
  return static_cast<int>(v);
}

// The byte length the pixels must have, after validating the size (so the product cannot overflow).
size_t expect_bytes(Napi::Env env, const Napi::Uint8Array& data, int width, int height,
                    int channels, const std::string& label) {
  guard(env, [&] { validate_image_size(width, height, label); });
  const size_t need = static_cast<size_t>(width) * height * channels;
  if (data.ElementLength() != need) {
    throw make_error(env, "ERR_VLAC_BAD_IMAGE",
                     label + ": " + std::to_string(width) + "x" + std::to_string(height) + "x" +
                         std::to_string(channels) + " pixels need " + std::to_string(need) +
                         " bytes, got " + std::to_string(data.ElementLength()));
  }
  return need;
}

// Hands a PageBuffer to JS without copying; the ArrayBuffer's finalizer unmaps it.
Napi::ArrayBuffer to_array_buffer(Napi::Env env, PageBuffer bytes) {
  if (bytes.empty()) return Napi::ArrayBuffer::New(env, 0);
  auto* owned = new PageBuffer(std::move(bytes));
  return Napi::ArrayBuffer::New(
      env, owned->data(), owned->size(), [](Napi::Env, void*, PageBuffer* b) { delete b; }, owned);
}

Napi::Uint8Array to_uint8_array(Napi::Env env, const std::vector<uint8_t>& bytes) {
  Napi::Uint8Array out = Napi::Uint8Array::New(env, bytes.size());
  if (!bytes.empty()) std::memcpy(out.Data(), bytes.data(), bytes.size());
  return out;
}

class PreprocessWorker : public Napi::AsyncWorker {
 public:
  PreprocessWorker(Napi::Env env, PageBuffer rgb, int width, int height, ResizeMode mode,
                   int max_tiles, int tile_size, std::string label, bool with_pixels)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        rgb_(std::move(rgb)),
        width_(width),
        height_(height),
        mode_(mode),
        max_tiles_(max_tiles),
        tile_size_(tile_size),
        label_(std::move(label)),
        with_pixels_(with_pixels) {}

  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      count_ = preprocess_tile_count(width_, height_, mode_, max_tiles_, 1, tile_size_, true, label_);
      size_ = tile_size_;
      const size_t plane = static_cast<size_t>(size_) * size_;
      uint8_ = PageBuffer(plane * 3 * count_);
      preprocess_image(rgb_.data(), width_, height_, mode_, max_tiles_, 1, tile_size_, true, label_, uint8_.data());
      rgb_ = PageBuffer();
      if (with_pixels_) {
        pixels_ = PageBuffer(plane * 3 * count_ * sizeof(float));
        for (int t = 0; t < count_; ++t)
          normalize_tile(uint8_.data() + plane * 3 * t, size_, pixels_.as<float>() + plane * 3 * t);
      }
    } catch (const Error& e) {
      error_code_ = error_code_name(e.code());
      error_message_ = e.what();
    } catch (const std::bad_alloc&) {
      error_code_ = "ERR_VLAC_OUT_OF_MEMORY";
      error_message_ = label_ + ": host memory allocation failed";
    } catch (const std::exception& e) {
      error_code_ = "ERR_VLAC_INTERNAL";
      error_message_ = std::string("internal error (please report): ") + e.what();
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (!error_code_.empty()) {
      deferred_.Reject(make_error(env, error_code_.c_str(), error_message_).Value());
      return;
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("tiles", Napi::Number::New(env, count_));
    out.Set("size", Napi::Number::New(env, size_));
    const size_t bytes = uint8_.size();
    out.Set("uint8", Napi::Uint8Array::New(env, bytes, to_array_buffer(env, std::move(uint8_)), 0));
    if (with_pixels_) {
      const size_t floats = pixels_.size() / sizeof(float);
      out.Set("pixels", Napi::Float32Array::New(env, floats, to_array_buffer(env, std::move(pixels_)), 0));
    }
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  PageBuffer rgb_;  // the input copy, unmapped once the tiles are made
  int width_, height_;
  ResizeMode mode_;
  int max_tiles_, tile_size_;
  std::string label_;
  bool with_pixels_;
  int count_ = 0, size_ = 0;
  PageBuffer uint8_, pixels_;
  std::string error_code_, error_message_;
};

Napi::Value preprocess(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Uint8Array rgb = arg_bytes(info, 0, "rgb");
  const std::string label = arg_label(info, 6);
  const int width = arg_dimension(info, 1, "width", label);
  const int height = arg_dimension(info, 2, "height", label);
  const std::string mode_name = arg_string(info, 3, "mode");
  ResizeMode mode;
  if (mode_name == "vlac") {
    mode = ResizeMode::Vlac;
  } else if (mode_name == "internvl") {
    mode = ResizeMode::InternVL;
  } else {
    throw make_error(env, "ERR_VLAC_BAD_ARGUMENT",
                     "resize must be 'vlac' or 'internvl', got '" + mode_name + "'");
  }
  const int64_t max_tiles = arg_int(info, 4, "maxTiles");
  const int64_t tile_size = arg_int(info, 5, "tileSize");
  if (max_tiles < 1 || max_tiles > kMaxTiles)
    throw make_error(env, "ERR_VLAC_BAD_ARGUMENT",
                     "maxTiles must be between 1 and " + std::to_string(kMaxTiles) + ", got " +
                         std::to_string(max_tiles));
  if (tile_size < 1 || tile_size > kMaxTileSize)
    throw make_error(env, "ERR_VLAC_BAD_ARGUMENT",
                     "tileSize must be between 1 and " + std::to_string(kMaxTileSize) + ", got " +
                         std::to_string(tile_size));
  const bool with_pixels = info.Length() <= 7 || info[7].IsUndefined() || info[7].ToBoolean().Value();
  const size_t bytes = expect_bytes(env, rgb, width, height, 3, label);
  PageBuffer copy = guard(env, [&] { return PageBuffer(bytes); });
  std::memcpy(copy.data(), rgb.Data(), bytes);
  auto* worker = new PreprocessWorker(env, std::move(copy), width, height, mode, static_cast<int>(max_tiles),
                                      static_cast<int>(tile_size), label, with_pixels);
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

Napi::Value to_rgb_binding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Uint8Array data = arg_bytes(info, 0, "data");
  const std::string label = arg_label(info, 4);
  const int width = arg_dimension(info, 1, "width", label);
  const int height = arg_dimension(info, 2, "height", label);
  const int64_t channels = arg_int(info, 3, "channels");
  if (channels < 1 || channels > 4)
    throw make_error(env, "ERR_VLAC_BAD_IMAGE",
                     label + ": raw pixels must have 1, 2, 3 or 4 channels, got " +
                         std::to_string(channels));
  expect_bytes(env, data, width, height, static_cast<int>(channels), label);
  return to_uint8_array(
      env, guard(env, [&] { return to_rgb(data.Data(), width, height, static_cast<int>(channels), label); }));
}

Napi::Value cmyk_to_rgb_binding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Uint8Array cmyk = arg_bytes(info, 0, "cmyk");
  const std::string label = arg_label(info, 3);
  const int width = arg_dimension(info, 1, "width", label);
  const int height = arg_dimension(info, 2, "height", label);
  expect_bytes(env, cmyk, width, height, 4, label);
  return to_uint8_array(env, guard(env, [&] { return cmyk_to_rgb(cmyk.Data(), width, height, label); }));
}

}  // namespace

void register_image_bindings(Napi::Env env, Napi::Object exports) {
  exports.Set("preprocess", Napi::Function::New(env, preprocess, "preprocess"));
  exports.Set("toRgb", Napi::Function::New(env, to_rgb_binding, "toRgb"));
  exports.Set("cmykToRgb", Napi::Function::New(env, cmyk_to_rgb_binding, "cmykToRgb"));
}

}  // namespace vlac::napi
