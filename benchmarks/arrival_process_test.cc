#include "benchmarks/arrival_process.h"

#include <cmath>
#include <limits>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace drivelm::benchmarks {
namespace {

using ::testing::HasSubstr;

// Mean and variance of many gaps: gamma(k, theta) has mean k*theta = 1/rate and variance
// k*theta^2 = 1/(rate^2 * k).
void ExpectMoments(double rate, double burstiness) {
  absl::StatusOr<ArrivalProcess> p = ArrivalProcess::Create(rate, burstiness, 42);
  ASSERT_TRUE(p.ok()) << p.status();
  constexpr int kN = 200000;
  double sum = 0, squares = 0;
  for (int i = 0; i < kN; ++i) {
    const double gap = p->NextGapS();
    ASSERT_GE(gap, 0);
    sum += gap;
    squares += gap * gap;
  }
  const double mean = sum / kN;
  const double variance = squares / kN - mean * mean;
  EXPECT_NEAR(mean, 1 / rate, 0.01 / rate) << "rate " << rate << " burstiness " << burstiness;
  const double expected_var = 1 / (rate * rate * burstiness);
  EXPECT_NEAR(variance, expected_var, 0.05 * expected_var)
      << "rate " << rate << " burstiness " << burstiness;
}

TEST(ArrivalProcessTest, PoissonAndGammaMoments) {
  ExpectMoments(4, 1);     // Poisson: exponential gaps, variance = mean^2
  ExpectMoments(10, 0.5);  // burstier
  ExpectMoments(2, 4);     // more regular
}

TEST(ArrivalProcessTest, SameSeedSameGaps) {
  ArrivalProcess a = *ArrivalProcess::Create(5, 1, 7);
  ArrivalProcess b = *ArrivalProcess::Create(5, 1, 7);
  ArrivalProcess c = *ArrivalProcess::Create(5, 1, 8);
  bool differs = false;
  for (int i = 0; i < 10; ++i) {
    const double ga = a.NextGapS(), gb = b.NextGapS(), gc = c.NextGapS();
    EXPECT_EQ(ga, gb);
    differs |= ga != gc;
  }
  EXPECT_TRUE(differs);
}

TEST(ArrivalProcessTest, InfiniteRateSendsAtOnce) {
  ArrivalProcess p = *ArrivalProcess::Create(std::numeric_limits<double>::infinity(), 1, 1);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(p.NextGapS(), 0);
}

TEST(ArrivalProcessTest, BadParameters) {
  EXPECT_THAT(ArrivalProcess::Create(0, 1, 1).status().message(), HasSubstr("request_rate"));
  EXPECT_THAT(ArrivalProcess::Create(-1, 1, 1).status().message(), HasSubstr("request_rate"));
  EXPECT_THAT(ArrivalProcess::Create(1, 0, 1).status().message(), HasSubstr("burstiness"));
  EXPECT_THAT(ArrivalProcess::Create(1, std::nan(""), 1).status().message(),
              HasSubstr("burstiness"));
}

TEST(ParseRequestRateTest, NumbersAndInf) {
  EXPECT_EQ(*ParseRequestRate("2.5"), 2.5);
  EXPECT_TRUE(std::isinf(*ParseRequestRate("inf")));
  EXPECT_TRUE(std::isinf(*ParseRequestRate("INF")));
  EXPECT_THAT(ParseRequestRate("0").status().message(), HasSubstr("'0'"));
  EXPECT_THAT(ParseRequestRate("fast").status().message(), HasSubstr("positive number"));
  EXPECT_FALSE(ParseRequestRate("-3").ok());
}

}  // namespace
}  // namespace drivelm::benchmarks
