// memkv/core/file_io.hpp - the shared core of every static (serialized) memkv structure.
//
// API (namespace memkv::io; everything here is also usable on its own):
//
//   // from memkv/core/varint.hpp (included): load_le/store_le/append_le, LEB128 varints,
//   // byte_reader (bounds-checked cursor whose errors name the offset).
//
//   std::uint64_t checksum64(std::span<const std::byte> data, std::uint64_t seed = 0) noexcept;
//       XXH64 (Yann Collet's xxHash64 algorithm, reimplemented here from its public
//       specification; output equals `xxhsum -H1` of the same bytes). ~10 GB/s per core, so
//       verifying a 100 MB image costs ~10 ms. Detects corruption, not tampering.
//
//   struct image_header { magic, version, flags, total_length, key_count, payload_checksum };
//   inline constexpr std::size_t image_header_size = 48;
//   std::vector<std::byte> begin_image();   // a vector holding 48 zero bytes to append after
//   void finish_image(std::vector<std::byte>& image, std::uint64_t magic, std::uint32_t version,
//                     std::uint32_t flags, std::uint64_t key_count);  // fills the header in
//                                                                     // (also for a span)
//   image_header parse_image_header(std::span<const std::byte> image, std::uint64_t magic,
//                                   std::uint32_t max_version, bool verify_payload = true,
//                                   bool verify_header = true);
//       throws memkv::format_error naming the offset of the first bad field. verify_header =
//       false skips only the header checksum (fuzzing a structure whose own validation checks
//       every header field); magic, version and length are always checked.
//
//   void atomic_write_file(const std::filesystem::path& path, std::span<const std::byte> data);
//       temporary file in the same directory, write, fsync, rename over `path`, fsync the
//       directory: a crash leaves the old file or the new one. Throws memkv::error naming the
//       path (and errno text); the temporary file is removed on failure.
//
//   class mapped_file;   // read-only mmap (PROT_READ, MAP_PRIVATE) of a whole file; move-only;
//                        // an empty file maps to an empty span; errors name the path.
//       explicit mapped_file(const std::filesystem::path&);  span(), data(), size(), empty()
//
//   class byte_source;   // where an image's bytes live: owned vector, mapped file, or a
//                        // borrowed span (caller keeps it alive). span() is stable across moves
//                        // of the byte_source (the buffer itself never moves).
//       static byte_source owned(std::vector<std::byte>); static byte_source mapped(path);
//       static byte_source borrowed(std::span<const std::byte>);
//       span(), data(), size(), kind(), heap_bytes()   // heap_bytes: bytes owned on the heap
//
// Image header (48 bytes, little-endian, at offset 0 of every image):
//
//   offset  0  u64 magic              structure-specific, e.g. "MKVFCI\0\1"
//   offset  8  u32 version            format version, 1..max_version accepted
//   offset 12  u32 flags              structure-defined bits (the parser only returns them)
//   offset 16  u64 total_length       bytes in the whole image, header included
//   offset 24  u64 key_count          structure-defined, returned to the caller
//   offset 32  u64 payload_checksum   checksum64(image[48, total_length))
//   offset 40  u64 header_checksum    checksum64(image[0, 40))
//
// Alignment: a borrowed span may start anywhere, so structures read through load_le (memcpy),
// never through reinterpret_cast of the image.
//
// Limitation: a mapped file that another process truncates while mapped raises SIGBUS on
// access, as with every mmap reader; memkv writes files only by rename, which is safe.
#pragma once

#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "memkv/core/error.hpp"
#include "memkv/core/varint.hpp"

#if __has_include(<sys/mman.h>) && __has_include(<unistd.h>)
#define MEMKV_HAS_POSIX_IO 1
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#else
#define MEMKV_HAS_POSIX_IO 0
#include <fstream>
#endif

namespace memkv::io {

// ---------------------------------------------------------------------------------------------
// checksum64: XXH64
namespace detail {
inline constexpr std::uint64_t xxh_p1 = 0x9E3779B185EBCA87ULL;
inline constexpr std::uint64_t xxh_p2 = 0xC2B2AE3D27D4EB4FULL;
inline constexpr std::uint64_t xxh_p3 = 0x165667B19E3779F9ULL;
inline constexpr std::uint64_t xxh_p4 = 0x85EBCA77C2B2AE63ULL;
inline constexpr std::uint64_t xxh_p5 = 0x27D4EB2F165667C5ULL;

constexpr std::uint64_t xxh_round(std::uint64_t acc, std::uint64_t input) noexcept {
  acc += input * xxh_p2;
  acc = std::rotl(acc, 31);
  return acc * xxh_p1;
}
constexpr std::uint64_t xxh_merge(std::uint64_t acc, std::uint64_t val) noexcept {
  acc ^= xxh_round(0, val);
  return acc * xxh_p1 + xxh_p4;
}
}  // namespace detail

inline std::uint64_t checksum64(std::span<const std::byte> data, std::uint64_t seed = 0) noexcept {
  using namespace detail;
  const std::byte* p = data.data();
  const std::size_t len = data.size();
  const std::byte* const end = p + len;
  std::uint64_t h;
  if (len >= 32) {
    std::uint64_t v1 = seed + xxh_p1 + xxh_p2, v2 = seed + xxh_p2, v3 = seed, v4 = seed - xxh_p1;
    const std::byte* const limit = end - 32;
    do {
      v1 = xxh_round(v1, load_le<std::uint64_t>(p));
      v2 = xxh_round(v2, load_le<std::uint64_t>(p + 8));
      v3 = xxh_round(v3, load_le<std::uint64_t>(p + 16));
      v4 = xxh_round(v4, load_le<std::uint64_t>(p + 24));
      p += 32;
    } while (p <= limit);
    h = std::rotl(v1, 1) + std::rotl(v2, 7) + std::rotl(v3, 12) + std::rotl(v4, 18);
    h = xxh_merge(h, v1);
    h = xxh_merge(h, v2);
    h = xxh_merge(h, v3);
    h = xxh_merge(h, v4);
  } else {
    h = seed + xxh_p5;
  }
  h += static_cast<std::uint64_t>(len);
  while (end - p >= 8) {
    h ^= xxh_round(0, load_le<std::uint64_t>(p));
    h = std::rotl(h, 27) * xxh_p1 + xxh_p4;
    p += 8;
  }
  if (end - p >= 4) {
    h ^= static_cast<std::uint64_t>(load_le<std::uint32_t>(p)) * xxh_p1;
    h = std::rotl(h, 23) * xxh_p2 + xxh_p3;
    p += 4;
  }
  while (p < end) {
    h ^= static_cast<std::uint64_t>(static_cast<std::uint8_t>(*p)) * xxh_p5;
    h = std::rotl(h, 11) * xxh_p1;
    ++p;
  }
  h ^= h >> 33;
  h *= xxh_p2;
  h ^= h >> 29;
  h *= xxh_p3;
  h ^= h >> 32;
  return h;
}

// ---------------------------------------------------------------------------------------------
// image header
struct image_header {
  std::uint64_t magic = 0;
  std::uint32_t version = 0;
  std::uint32_t flags = 0;
  std::uint64_t total_length = 0;
  std::uint64_t key_count = 0;
  std::uint64_t payload_checksum = 0;
};

inline constexpr std::size_t image_header_size = 48;

inline std::vector<std::byte> begin_image() { return std::vector<std::byte>(image_header_size); }

// Fills the first 48 bytes of `image` (which must hold at least that many) from its contents.
inline void finish_image(std::span<std::byte> image, std::uint64_t magic, std::uint32_t version,
                         std::uint32_t flags, std::uint64_t key_count) {
  if (image.size() < image_header_size)
    memkv::detail::throw_error("finish_image: image smaller than its header");
  std::byte* h = image.data();
  store_le<std::uint64_t>(h + 0, magic);
  store_le<std::uint32_t>(h + 8, version);
  store_le<std::uint32_t>(h + 12, flags);
  store_le<std::uint64_t>(h + 16, image.size());
  store_le<std::uint64_t>(h + 24, key_count);
  store_le<std::uint64_t>(
      h + 32, checksum64(std::span<const std::byte>(image).subspan(image_header_size)));
  store_le<std::uint64_t>(h + 40, checksum64(std::span<const std::byte>(h, 40)));
}
inline void finish_image(std::vector<std::byte>& image, std::uint64_t magic, std::uint32_t version,
                         std::uint32_t flags, std::uint64_t key_count) {
  finish_image(std::span<std::byte>(image), magic, version, flags, key_count);
}

namespace detail {
inline std::string hex64(std::uint64_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s = "0x";
  for (int shift = 60; shift >= 0; shift -= 4) s += digits[(v >> shift) & 0xf];
  return s;
}
}  // namespace detail

// Validates the header of `image` (and, with verify_payload, the payload checksum, O(size)).
inline image_header parse_image_header(std::span<const std::byte> image, std::uint64_t magic,
                                       std::uint32_t max_version, bool verify_payload = true,
                                       bool verify_header = true) {
  using memkv::detail::throw_format_error;
  if (image.size() < image_header_size)
    throw_format_error("image of " + std::to_string(image.size()) +
                       " bytes is shorter than its 48-byte header (offset 0)");
  const std::byte* h = image.data();
  image_header r;
  r.magic = load_le<std::uint64_t>(h + 0);
  if (r.magic != magic)
    throw_format_error("bad magic " + detail::hex64(r.magic) + " at offset 0, expected " +
                       detail::hex64(magic));
  r.version = load_le<std::uint32_t>(h + 8);
  if (r.version == 0 || r.version > max_version)
    throw_format_error("unsupported format version " + std::to_string(r.version) +
                       " at offset 8 (this build reads 1.." + std::to_string(max_version) + ")");
  if (verify_header && load_le<std::uint64_t>(h + 40) != checksum64(image.first(40)))
    throw_format_error("header checksum mismatch at offset 40");
  r.flags = load_le<std::uint32_t>(h + 12);
  r.total_length = load_le<std::uint64_t>(h + 16);
  if (r.total_length != image.size())
    throw_format_error("length field at offset 16 says " + std::to_string(r.total_length) +
                       " bytes, the image has " + std::to_string(image.size()));
  r.key_count = load_le<std::uint64_t>(h + 24);
  r.payload_checksum = load_le<std::uint64_t>(h + 32);
  if (verify_payload && r.payload_checksum != checksum64(image.subspan(image_header_size)))
    throw_format_error("payload checksum mismatch (field at offset 32, payload at offsets 48.." +
                       std::to_string(image.size()) + ")");
  return r;
}

// ---------------------------------------------------------------------------------------------
// files
namespace detail {
[[noreturn]] inline void throw_io_error(const std::string& what, const std::filesystem::path& path,
                                        int err) {
  memkv::detail::throw_error(what + " '" + path.string() + "': " + std::strerror(err));
}
}  // namespace detail

inline void atomic_write_file(const std::filesystem::path& path, std::span<const std::byte> data) {
#if MEMKV_HAS_POSIX_IO
  static unsigned counter = 0;  // distinct names within one process; pid across processes
  const std::filesystem::path dir =
      path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::filesystem::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid()) + "." +
         std::to_string(__atomic_fetch_add(&counter, 1u, __ATOMIC_RELAXED));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) detail::throw_io_error("cannot create temporary file", tmp, errno);
  auto fail = [&](const char* what, const std::filesystem::path& p) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    detail::throw_io_error(what, p, err);
  };
  const std::byte* p = data.data();
  std::size_t left = data.size();
  while (left > 0) {
    const ::ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot write", tmp);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) fail("cannot fsync", tmp);
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    detail::throw_io_error("cannot close", tmp, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    detail::throw_io_error("cannot rename temporary file onto", path, err);
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) detail::throw_io_error("cannot open directory to fsync", dir, errno);
  if (::fsync(dfd) != 0) {
    const int err = errno;
    ::close(dfd);
    detail::throw_io_error("cannot fsync directory", dir, err);
  }
  ::close(dfd);
#else
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    f.flush();
    if (!f) detail::throw_io_error("cannot write", tmp, errno);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) memkv::detail::throw_error("cannot rename onto '" + path.string() + "': " + ec.message());
#endif
}

class mapped_file {
public:
  mapped_file() noexcept = default;
  explicit mapped_file(const std::filesystem::path& path) {
#if MEMKV_HAS_POSIX_IO
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) detail::throw_io_error("cannot open", path, errno);
    struct ::stat st;
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      detail::throw_io_error("cannot stat", path, err);
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      memkv::detail::throw_error("not a regular file '" + path.string() + "'");
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        const int err = errno;
        ::close(fd);
        size_ = 0;
        detail::throw_io_error("cannot mmap", path, err);
      }
      data_ = static_cast<const std::byte*>(p);
    }
    ::close(fd);  // the mapping keeps the file alive
#else
    std::ifstream f(path, std::ios::binary);
    if (!f) detail::throw_io_error("cannot open", path, errno);
    buffer_.assign(std::istreambuf_iterator<char>(f), {});
    data_ = reinterpret_cast<const std::byte*>(buffer_.data());
    size_ = buffer_.size();
#endif
  }
  mapped_file(const mapped_file&) = delete;
  mapped_file& operator=(const mapped_file&) = delete;
  mapped_file(mapped_file&& o) noexcept { swap(o); }
  mapped_file& operator=(mapped_file&& o) noexcept {
    mapped_file tmp(std::move(o));
    swap(tmp);
    return *this;
  }
  ~mapped_file() {
#if MEMKV_HAS_POSIX_IO
    if (data_) ::munmap(const_cast<std::byte*>(data_), size_);
#endif
  }
  void swap(mapped_file& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
#if !MEMKV_HAS_POSIX_IO
    buffer_.swap(o.buffer_);
#endif
  }

  std::span<const std::byte> span() const noexcept { return {data_, size_}; }
  const std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

private:
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
#if !MEMKV_HAS_POSIX_IO
  std::string buffer_;
#endif
};

class byte_source {
public:
  enum class kind_type { borrowed, owned, mapped };

  byte_source() noexcept = default;
  static byte_source owned(std::vector<std::byte> bytes) {
    byte_source s;
    s.storage_ = std::move(bytes);
    return s;
  }
  static byte_source mapped(const std::filesystem::path& path) {
    byte_source s;
    s.storage_ = mapped_file(path);
    return s;
  }
  static byte_source borrowed(std::span<const std::byte> bytes) noexcept {
    byte_source s;
    s.storage_ = bytes;
    return s;
  }

  std::span<const std::byte> span() const noexcept {
    if (auto* v = std::get_if<std::vector<std::byte>>(&storage_)) return {v->data(), v->size()};
    if (auto* m = std::get_if<mapped_file>(&storage_)) return m->span();
    return std::get<std::span<const std::byte>>(storage_);
  }
  const std::byte* data() const noexcept { return span().data(); }
  std::size_t size() const noexcept { return span().size(); }
  kind_type kind() const noexcept {
    switch (storage_.index()) {
      case 1: return kind_type::owned;
      case 2: return kind_type::mapped;
      default: return kind_type::borrowed;
    }
  }
  // Heap bytes this source owns (a mapping's pages belong to the page cache, not the heap).
  std::size_t heap_bytes() const noexcept {
    if (auto* v = std::get_if<std::vector<std::byte>>(&storage_)) return v->capacity();
    return 0;
  }

private:
  std::variant<std::span<const std::byte>, std::vector<std::byte>, mapped_file> storage_;
};

}  // namespace memkv::io
