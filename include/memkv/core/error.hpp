// memkv/core/error.hpp - the error types of the memkv contract.
//
// memkv::error        derives from std::runtime_error: misuse (keys out of order, limits
//                     exceeded, I/O failures). The message says what and where.
// memkv::format_error derives from memkv::error: a serialized image (file or bytes) that is
//                     not a valid memkv image. The message names the offset or the path.
// std::bad_alloc passes through memkv untouched.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

namespace memkv {

class error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

class format_error : public error {
public:
  using error::error;
};

namespace detail {
[[noreturn]] inline void throw_error(const std::string& what) { throw error("memkv: " + what); }
[[noreturn]] inline void throw_format_error(const std::string& what) {
  throw format_error("memkv: " + what);
}
}  // namespace detail

}  // namespace memkv
