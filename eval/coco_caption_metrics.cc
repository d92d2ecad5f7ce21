#include "eval/coco_caption_metrics.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "eval/ptb_tokenizer.h"
#include "eval/python_str.h"

namespace drivelm::eval {
namespace {

constexpr int kMaxN = 4;           // BLEU and CIDEr n-gram orders
constexpr double kSigma = 6.0;     // CIDEr-D length penalty
constexpr double kRougeBeta = 1.2;

// numpy's pairwise_sum (numpy/core/src/umath/loops_utils.h.src) for float64.
double PairwiseSum(const double* a, size_t n) {
  if (n < 8) {
    double res = 0.;
    for (size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    size_t i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    }
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return PairwiseSum(a, n2) + PairwiseSum(a + n2, n - n2);
}

// The n-gram counts of a caption in Python dict insertion order (precook: k = 1..n, then left
// to right), which fixes the order of the floating-point sums below.
struct NgramCounts {
  std::vector<std::pair<std::string, int>> items;  // (key, count), key encodes order and words
  std::unordered_map<std::string, size_t> index;
  int length = 0;  // number of words

  void Add(const std::string& key) {
    auto it = index.find(key);
    if (it == index.end()) {
      index.emplace(key, items.size());
      items.emplace_back(key, 1);
    } else {
      ++items[it->second].second;
    }
  }
  int Get(const std::string& key) const {
    auto it = index.find(key);
    return it == index.end() ? 0 : items[it->second].second;
  }
};

// The key of an n-gram: its order, then length-prefixed words (no separator can collide).
std::string NgramKey(const std::vector<std::string>& words, size_t start, int k) {
  std::string key = std::to_string(k);
  for (int j = 0; j < k; ++j) {
    const std::string& w = words[start + j];
    absl::StrAppend(&key, "|", w.size(), ":", w);
  }
  return key;
}

int KeyOrder(const std::string& key) { return key[0] - '0'; }

NgramCounts Precook(const std::string& s) {
  const std::vector<std::string> words = PythonSplit(s);
  NgramCounts counts;
  counts.length = static_cast<int>(words.size());
  for (int k = 1; k <= kMaxN; ++k) {
    for (int i = 0; i + k <= static_cast<int>(words.size()); ++i) counts.Add(NgramKey(words, i, k));
  }
  return counts;
}

// ---- BLEU (bleu_scorer.py, option "closest"). ----
void ComputeBleu(const std::vector<std::string>& predictions,
                 const std::vector<std::vector<std::string>>& references, CaptionScores* out) {
  const double small = 1e-9;
  const double tiny = 1e-15;
  int64_t total_testlen = 0;
  int64_t total_reflen = 0;
  std::array<int64_t, kMaxN> total_guess = {0, 0, 0, 0};
  std::array<int64_t, kMaxN> total_correct = {0, 0, 0, 0};
  out->bleu_per_caption.assign(predictions.size(), {0, 0, 0, 0});
  for (size_t c = 0; c < predictions.size(); ++c) {
    // cook_refs: reference lengths and the max count of each n-gram over the references.
    std::vector<int> reflens;
    std::unordered_map<std::string, int> maxcounts;
    for (const std::string& ref : references[c]) {
      const NgramCounts rc = Precook(ref);
      reflens.push_back(rc.length);
      for (const auto& [key, count] : rc.items) {
        int& m = maxcounts[key];
        m = std::max(m, count);
      }
    }
    // cook_test.
    const NgramCounts tc = Precook(predictions[c]);
    const int testlen = tc.length;
    std::array<int, kMaxN> guess;
    std::array<int, kMaxN> correct = {0, 0, 0, 0};
    for (int k = 1; k <= kMaxN; ++k) guess[k - 1] = std::max(0, testlen - k + 1);
    for (const auto& [key, count] : tc.items) {
      auto it = maxcounts.find(key);
      correct[KeyOrder(key) - 1] += std::min(it == maxcounts.end() ? 0 : it->second, count);
    }
    // _single_reflen(option="closest"): min over (abs(l - testlen), l).
    int reflen = reflens[0];
    for (int l : reflens) {
      const int d = std::abs(l - testlen);
      const int best_d = std::abs(reflen - testlen);
      if (d < best_d || (d == best_d && l < reflen)) reflen = l;
    }
    total_testlen += testlen;
    total_reflen += reflen;
    for (int k = 0; k < kMaxN; ++k) {
      total_guess[k] += guess[k];
      total_correct[k] += correct[k];
    }
    double bleu = 1.;
    for (int k = 0; k < kMaxN; ++k) {
      bleu *= (static_cast<double>(correct[k]) + tiny) / (static_cast<double>(guess[k]) + small);
      out->bleu_per_caption[c][k] = std::pow(bleu, 1. / (k + 1));
    }
    const double ratio =
        (static_cast<double>(testlen) + tiny) / (static_cast<double>(reflen) + small);
    if (ratio < 1) {
      for (int k = 0; k < kMaxN; ++k) out->bleu_per_caption[c][k] *= std::exp(1 - 1 / ratio);
    }
  }
  double bleu = 1.;
  for (int k = 0; k < kMaxN; ++k) {
    bleu *= (static_cast<double>(total_correct[k]) + tiny) /
            (static_cast<double>(total_guess[k]) + small);
    out->bleu[k] = std::pow(bleu, 1. / (k + 1));
  }
  const double ratio =
      (static_cast<double>(total_testlen) + tiny) / (static_cast<double>(total_reflen) + small);
  if (ratio < 1) {
    for (int k = 0; k < kMaxN; ++k) out->bleu[k] *= std::exp(1 - 1 / ratio);
  }
}

// ---- ROUGE_L (rouge.py). ----
size_t Lcs(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<size_t> prev(b.size() + 1, 0), cur(b.size() + 1, 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = a[i - 1] == b[j - 1] ? prev[j - 1] + 1 : std::max(prev[j], cur[j - 1]);
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

double RougeL(const std::string& candidate, const std::vector<std::string>& refs) {
  const std::vector<std::string> token_c = PythonSplitOn(candidate, ' ');
  double prec_max = 0;
  double rec_max = 0;
  bool first = true;
  for (const std::string& reference : refs) {
    const std::vector<std::string> token_r = PythonSplitOn(reference, ' ');
    const double lcs = static_cast<double>(Lcs(token_r, token_c));
    const double prec = lcs / static_cast<double>(token_c.size());
    const double rec = lcs / static_cast<double>(token_r.size());
    prec_max = first ? prec : std::max(prec_max, prec);
    rec_max = first ? rec : std::max(rec_max, rec);
    first = false;
  }
  if (prec_max != 0 && rec_max != 0) {
    const double beta2 = std::pow(kRougeBeta, 2);
    return ((1 + beta2) * prec_max * rec_max) / (rec_max + beta2 * prec_max);
  }
  return 0.0;
}

// ---- CIDEr-D (cider_scorer.py). ----
struct CiderVec {
  // Per order: (key, tf-idf weight) in insertion order, and a lookup.
  std::array<std::vector<std::pair<std::string, double>>, kMaxN> vec;
  std::array<std::unordered_map<std::string, double>, kMaxN> lookup;
  std::array<double, kMaxN> norm = {0, 0, 0, 0};
  int length = 0;  // bigram count (the original's `if n == 1`)
};

CiderVec CountsToVec(const NgramCounts& cnts, const std::unordered_map<std::string, double>& df,
                     double ref_len) {
  CiderVec v;
  for (const auto& [key, term_freq] : cnts.items) {
    auto it = df.find(key);
    const double d = std::log(std::max(1.0, it == df.end() ? 0.0 : it->second));
    const int n = KeyOrder(key) - 1;
    const double w = static_cast<double>(term_freq) * (ref_len - d);
    v.vec[n].emplace_back(key, w);
    v.lookup[n][key] = w;
    v.norm[n] += std::pow(w, 2);
    if (n == 1) v.length += term_freq;
  }
  for (double& x : v.norm) x = std::sqrt(x);
  return v;
}

std::array<double, kMaxN> CiderSim(const CiderVec& hyp, const CiderVec& ref) {
  const double delta = static_cast<double>(hyp.length - ref.length);
  std::array<double, kMaxN> val = {0.0, 0.0, 0.0, 0.0};
  for (int n = 0; n < kMaxN; ++n) {
    for (const auto& [key, h] : hyp.vec[n]) {
      auto it = ref.lookup[n].find(key);
      const double r = it == ref.lookup[n].end() ? 0.0 : it->second;
      val[n] += std::min(h, r) * r;
    }
    if (hyp.norm[n] != 0 && ref.norm[n] != 0) val[n] /= (hyp.norm[n] * ref.norm[n]);
    val[n] *= std::pow(M_E, -(std::pow(delta, 2)) / (2 * std::pow(kSigma, 2)));
  }
  return val;
}

void ComputeCider(const std::vector<std::string>& predictions,
                  const std::vector<std::vector<std::string>>& references, CaptionScores* out) {
  std::vector<NgramCounts> tests;
  std::vector<std::vector<NgramCounts>> crefs;
  std::unordered_map<std::string, double> df;  // document frequency over the references
  for (size_t c = 0; c < predictions.size(); ++c) {
    tests.push_back(Precook(predictions[c]));
    std::vector<NgramCounts> refs;
    std::unordered_map<std::string, bool> seen;
    for (const std::string& r : references[c]) {
      refs.push_back(Precook(r));
      for (const auto& [key, count] : refs.back().items) seen[key] = true;
    }
    for (const auto& [key, unused] : seen) df[key] += 1;
    crefs.push_back(std::move(refs));
  }
  const double ref_len = std::log(static_cast<double>(crefs.size()));
  out->cider_per_caption.clear();
  for (size_t c = 0; c < tests.size(); ++c) {
    const CiderVec hyp = CountsToVec(tests[c], df, ref_len);
    std::array<double, kMaxN> score = {0.0, 0.0, 0.0, 0.0};
    for (const NgramCounts& r : crefs[c]) {
      const std::array<double, kMaxN> sim = CiderSim(hyp, CountsToVec(r, df, ref_len));
      for (int n = 0; n < kMaxN; ++n) score[n] += sim[n];
    }
    double score_avg = PairwiseSum(score.data(), score.size()) / static_cast<double>(kMaxN);
    score_avg /= static_cast<double>(crefs[c].size());
    score_avg *= 10.0;
    out->cider_per_caption.push_back(score_avg);
  }
  out->cider = NumpyMean(out->cider_per_caption);
}

absl::Status CheckInputs(const std::vector<std::string>& predictions,
                         const std::vector<std::vector<std::string>>& references) {
  if (predictions.size() != references.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("caption metrics: ", predictions.size(), " predictions but ",
                     references.size(), " reference lists; expected one list per prediction"));
  }
  if (predictions.empty()) {
    return absl::InvalidArgumentError("caption metrics: no captions to score");
  }
  for (size_t i = 0; i < references.size(); ++i) {
    if (references[i].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("caption metrics: caption ", i, " has no reference; expected at least 1"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

double NumpyMean(const std::vector<double>& values) {
  if (values.empty()) return 0.0;
  return PairwiseSum(values.data(), values.size()) / static_cast<double>(values.size());
}

absl::StatusOr<CaptionScores> ScoreTokenizedCaptions(
    const std::vector<std::string>& predictions,
    const std::vector<std::vector<std::string>>& references) {
  if (absl::Status s = CheckInputs(predictions, references); !s.ok()) return s;
  CaptionScores out;
  ComputeBleu(predictions, references, &out);
  for (size_t c = 0; c < predictions.size(); ++c) {
    out.rouge_l_per_caption.push_back(RougeL(predictions[c], references[c]));
  }
  out.rouge_l = NumpyMean(out.rouge_l_per_caption);
  ComputeCider(predictions, references, &out);
  return out;
}

absl::StatusOr<CaptionScores> ComputeCocoCaptionMetrics(
    const std::vector<std::string>& predictions,
    const std::vector<std::vector<std::string>>& references) {
  if (absl::Status s = CheckInputs(predictions, references); !s.ok()) return s;
  // gts = tokenizer.tokenize(gts): every reference of every caption, in order, in one batch.
  std::vector<std::string> flat_refs;
  for (const auto& refs : references) flat_refs.insert(flat_refs.end(), refs.begin(), refs.end());
  const std::vector<std::string> tok_flat = PtbTokenizeCaptions(flat_refs);
  std::vector<std::vector<std::string>> tok_refs;
  size_t k = 0;
  for (const auto& refs : references) {
    tok_refs.emplace_back(tok_flat.begin() + k, tok_flat.begin() + k + refs.size());
    k += refs.size();
  }
  // res = tokenizer.tokenize(res)
  return ScoreTokenizedCaptions(PtbTokenizeCaptions(predictions), tok_refs);
}

absl::StatusOr<CaptionScores> ComputeCocoCaptionMetrics(
    const std::vector<std::string>& predictions, const std::vector<std::string>& references) {
  std::vector<std::vector<std::string>> refs;
  refs.reserve(references.size());
  for (const std::string& r : references) refs.push_back({r});
  return ComputeCocoCaptionMetrics(predictions, refs);
}

}  // namespace drivelm::eval
