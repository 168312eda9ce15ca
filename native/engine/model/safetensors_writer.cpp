#include "model/safetensors_writer.h"

#include <cerrno>
#include <cstring>

#include "common/error.h"
#include "common/json.h"

namespace vlac {

FileWriter::FileWriter(const std::string& path) : path_(path), f_(std::fopen(path.c_str(), "wb")) {
  if (!f_) fail(ErrorCode::BadArgument, "cannot create " + path + ": " + std::strerror(errno));
}

FileWriter::~FileWriter() {
  if (f_) std::fclose(f_);
}

void FileWriter::write(const void* data, size_t n) {
  if (n && std::fwrite(data, 1, n, f_) != n) fail(ErrorCode::BadArgument, "cannot write " + path_ + ": " + std::strerror(errno));
}

void FileWriter::close() {
  FILE* f = f_;
  f_ = nullptr;
  if (std::fclose(f) != 0) fail(ErrorCode::BadArgument, "cannot write " + path_ + ": " + std::strerror(errno));
}

SafetensorsWriter::SafetensorsWriter(const std::string& path, const std::vector<Tensor>& tensors,
                                     const std::map<std::string, std::string>& metadata)
    : file_(path) {
  json header = json::object();
  for (const Tensor& t : tensors) {
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {data_bytes_, data_bytes_ + t.bytes}}};
    data_bytes_ += t.bytes;
  }
  header["__metadata__"] = metadata;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  const uint64_t n = text.size();
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
  file_.write(len, 8);
  file_.write(text.data(), text.size());
  header_bytes_ = 8 + n;
}

void SafetensorsWriter::write(const void* data, size_t n) {
  VLAC_CHECK(written_ + n <= data_bytes_, "SafetensorsWriter: more data than the header declares");
  file_.write(data, n);
  written_ += n;
}

uint64_t SafetensorsWriter::close() {
  VLAC_CHECK(written_ == data_bytes_, "SafetensorsWriter: " + std::to_string(written_) + " bytes of tensor data written, " +
                                          std::to_string(data_bytes_) + " declared");
  file_.close();
  return header_bytes_ + data_bytes_;
}

}  // namespace vlac
