// The mutual-TLS context both ends of a collector link use: the sensor's
// link (client) and `flowtrail collect` (server) each load their own
// certificate chain and key, trust only the site's CA, and demand the
// peer's certificate, TLS 1.2 at least. One set-up, so both ends refuse the
// same files with the same messages ("FLAG FILE: what OpenSSL said").
#pragma once

#include <openssl/ssl.h>

#include <string>

#include "absl/status/statusor.h"

namespace flowtrail::exporter {

enum class TlsRole { kClient, kServer };

struct TlsFiles {
  std::string ca, cert, key;  // PEM files
  // The options that named them, for the messages.
  const char* ca_flag = "--tls-ca";
  const char* cert_flag = "--tls-cert";
  const char* key_flag = "--tls-key";
};

// A new context (the caller frees it with SSL_CTX_free). A server refuses a
// peer without a certificate the CA signed; a client checks the server's
// against the CA (its name is the caller's to set per connection). Both
// write partially (non-blocking sockets).
absl::StatusOr<SSL_CTX*> MakeMutualTlsContext(TlsRole role, const TlsFiles& files);

// OpenSSL's queued errors, joined ("unknown TLS error" when there is none).
std::string OpenSslErrors();

}  // namespace flowtrail::exporter
