// zstd for segment files (Debian's libzstd): compressing a closed file, and
// reading a zstd stream as if it were the plain bytes. Readers recognise
// zstd by its magic number (28 b5 2f fd), not by the file name; a plain
// record stream cannot start that way in practice (its first frame, the
// header, would have to be 40 bytes long and start with field 742).
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "export/stream_reader.h"

namespace flowtrail::exporter {

// Compresses `in` into a new file `out` (which must not exist), fsync'd when
// asked. `out` is removed again on failure.
absl::Status CompressFileZstd(const std::string& in, const std::string& out, int level, bool fsync);

// `source` itself, or a decompressing source over it when its first bytes
// are a zstd frame. Decompression is streaming (memory: the zstd window,
// capped at 128 MiB, plus fixed buffers); corrupt or truncated zstd data is
// an error naming `name`.
std::unique_ptr<ByteSource> MaybeZstdSource(std::unique_ptr<ByteSource> source,
                                            const std::string& name);

}  // namespace flowtrail::exporter
