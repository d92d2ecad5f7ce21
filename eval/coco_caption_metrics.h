// BLEU-1..4, ROUGE_L and CIDEr(-D) exactly as the COCO caption evaluation package computes them
// (pycocoevalcap 1.2 on PyPI, whose scorers DriveLM's official evaluation reaches through the
// `language_evaluation` package's CocoEvaluator): same tokenization (eval/ptb_tokenizer.h), same
// formulas, same constants, same order of floating-point operations, so scores agree to the last
// few ulps (the parity test asserts 1e-6; eval/testdata/caption_reference.json holds the values).
//
// What the scorers do (pycocoevalcap/{bleu,rouge,cider}):
//   BLEU (bleu_scorer.py, n=4): per caption, clipped n-gram matches against the max count over
//     its references; corpus score = prod_k ((correct_k + 1e-15) / (guess_k + 1e-9))^(1/n),
//     brevity penalty exp(1 - 1/ratio) when ratio = (testlen + 1e-15) / (reflen + 1e-9) < 1, with
//     reflen summed over captions using the "closest" reference length (ties -> the shorter).
//     Words are str.split().
//   ROUGE_L (rouge.py): LCS over str.split(' ') tokens (an empty caption is one empty token);
//     P = max_r LCS/len(c), R = max_r LCS/len(r), score = (1 + b^2) P R / (R + b^2 P), b = 1.2;
//     corpus score = numpy mean of the per-caption scores.
//   CIDEr-D (cider_scorer.py, n=4, sigma=6): TF-IDF n-gram vectors with document frequencies
//     over the references of the evaluated corpus, idf = log(#captions) - log(max(1, df));
//     per n the clipped cosine sum_g min(h_g, r_g) r_g / (|h| |r|), times the Gaussian length
//     penalty e^(-(delta^2)/(2 sigma^2)) where delta is the difference in BIGRAM counts (a quirk
//     of the original: it counts `n == 1`, the bigram index); mean over n, mean over references,
//     x10; corpus score = numpy mean. With a single caption, log(1) = 0 makes every CIDEr 0.
// Means use numpy's pairwise summation, as np.mean does.
//
// Thread-safety: stateless; safe to call concurrently.
#ifndef DRIVELM_EVAL_COCO_CAPTION_METRICS_H_
#define DRIVELM_EVAL_COCO_CAPTION_METRICS_H_

#include <array>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace drivelm::eval {

struct CaptionScores {
  std::array<double, 4> bleu = {0, 0, 0, 0};  // corpus BLEU-1..4, 0-1
  double rouge_l = 0;                          // 0-1
  double cider = 0;                            // 0-10 (x10 scaling)
  // Per caption, in input order (pycocoevalcap's imgToEval).
  std::vector<std::array<double, 4>> bleu_per_caption;
  std::vector<double> rouge_l_per_caption;
  std::vector<double> cider_per_caption;
};

// Scores already-tokenized captions: predictions[i] against references[i] (one or more each),
// the strings pycocoevalcap hands its scorers after PTBTokenizer. INVALID_ARGUMENT when the
// sizes differ, the corpus is empty, or a caption has no reference.
absl::StatusOr<CaptionScores> ScoreTokenizedCaptions(
    const std::vector<std::string>& predictions,
    const std::vector<std::vector<std::string>>& references);

// Tokenizes (all references in one batch, all predictions in another, as pycocoevalcap does)
// and scores raw captions.
absl::StatusOr<CaptionScores> ComputeCocoCaptionMetrics(
    const std::vector<std::string>& predictions,
    const std::vector<std::vector<std::string>>& references);

// One reference per caption (DriveLM).
absl::StatusOr<CaptionScores> ComputeCocoCaptionMetrics(
    const std::vector<std::string>& predictions, const std::vector<std::string>& references);

// numpy's np.mean over a float64 vector (pairwise summation, then / n); 0 for an empty vector
// (numpy would return nan).
double NumpyMean(const std::vector<double>& values);

}  // namespace drivelm::eval

#endif  // DRIVELM_EVAL_COCO_CAPTION_METRICS_H_
