#include "server/metrics_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "server/http_get.h"

namespace drivelm::server {
namespace {

using ::testing::HasSubstr;

TEST(MetricsHttpServerTest, ServesRegistryText) {
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::Counter& counter = prometheus::BuildCounter()
                                     .Name("drivelm_test_total")
                                     .Help("a test counter")
                                     .Register(*registry)
                                     .Add({{"phase", "vision"}});
  counter.Increment(3);
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> server =
      MetricsHttpServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  ASSERT_GT(port, 0);

  absl::StatusOr<HttpResponse> r = HttpGet("127.0.0.1", port, "/metrics");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(r->headers, HasSubstr("text/plain; version=0.0.4"));
  EXPECT_THAT(r->body, HasSubstr("# TYPE drivelm_test_total counter"));
  EXPECT_THAT(r->body, HasSubstr("drivelm_test_total{phase=\"vision\"} 3"));

  // Values are read at scrape time.
  counter.Increment();
  r = HttpGet("127.0.0.1", port, "/metrics?x=1");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->body, HasSubstr("drivelm_test_total{phase=\"vision\"} 4"));

  r = HttpGet("127.0.0.1", port, "/nope");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 404);
  r = HttpGet("127.0.0.1", port, "/");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(r->body, HasSubstr("/metrics"));
}

TEST(MetricsHttpServerTest, ConcurrentScrapes) {
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter().Name("c_total").Help("h").Register(*registry).Add({}).Increment();
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> server =
      MetricsHttpServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(server.ok()) << server.status();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 10; ++j) {
        absl::StatusOr<HttpResponse> r = HttpGet("127.0.0.1", (*server)->port(), "/metrics");
        if (r.ok() && r->status == 200 && r->body.find("c_total 1") != std::string::npos) ++ok;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 80);
}

TEST(MetricsHttpServerTest, BusyPortAndBadAddressAreErrors) {
  auto registry = std::make_shared<prometheus::Registry>();
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> first =
      MetricsHttpServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string taken = "127.0.0.1:" + std::to_string((*first)->port());
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> second =
      MetricsHttpServer::Start(taken, registry);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr(taken));
  EXPECT_FALSE(MetricsHttpServer::Start("127.0.0.1", registry).ok());
  EXPECT_FALSE(MetricsHttpServer::Start("127.0.0.1:99999", registry).ok());
}

TEST(MetricsHttpServerTest, StopsWhileAClientHoldsAConnection) {
  auto registry = std::make_shared<prometheus::Registry>();
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> server =
      MetricsHttpServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(server.ok()) << server.status();
  // A client that connects and sends nothing holds the serving thread for up to the request
  // timeout (5 s); Stop() must not wait for it.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>((*server)->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  absl::SleepFor(absl::Milliseconds(100));
  const absl::Time start = absl::Now();
  (*server)->Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  ::close(fd);
}

}  // namespace
}  // namespace drivelm::server
