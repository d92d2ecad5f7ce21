// HttpGet: a minimal blocking HTTP/1.0 GET over a TCP socket, for tests that scrape /metrics
// (no curl or Python needed on the test machine).
#ifndef DRIVELM_SERVER_HTTP_GET_H_
#define DRIVELM_SERVER_HTTP_GET_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace drivelm::server {

struct HttpResponse {
  int status = 0;            // e.g. 200
  std::string headers;       // the raw header block, status line included
  std::string body;
};

// GETs http://`host`:`port``path` (host: an IPv4/IPv6 address or a name). The whole exchange is
// bounded by `timeout`. Unavailable when the connection fails, DeadlineExceeded on timeout,
// DataLoss for a response that is not HTTP.
absl::StatusOr<HttpResponse> HttpGet(const std::string& host, int port, const std::string& path,
                                     absl::Duration timeout = absl::Seconds(10));

}  // namespace drivelm::server

#endif  // DRIVELM_SERVER_HTTP_GET_H_
