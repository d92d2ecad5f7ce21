#!/usr/bin/env python3
"""A faithful Python transcription of DriveLM's official scoring, and the generator of the
expected values that eval/drivelm_metrics_test.cc checks the C++ implementation against.

Transcribed from: OpenDriveLab/DriveLM, challenge/evaluation.py (class evaluation_suit and the
__main__ loop; the version that imports language_evaluation and gpt_eval.GPTEvaluation), with the
language scores of language_evaluation.CocoEvaluator.run_evaluation (bckim92/language-evaluation,
language_evaluation/__init__.py), which vendors pycocoevalcap's scorers.

What was changed, and only this:
  - No ChatGPT: GPTEvaluation.forward(data) is replaced by a `judge(answer, gt)` function passed
    in (the tests use a deterministic stand-in); eval_chatGPT keeps its averaging and runs
    sequentially instead of in a multiprocessing Pool of 32.
  - language_evaluation.CocoEvaluator is replaced by `coco_evaluate` below, which does what its
    run_evaluation does (the "_UNK" -> "_UNKNOWN" replacement on the references, one tokenizer
    batch for references and one for predictions, Bleu(4), Rouge(), Cider()) with pycocoevalcap
    from PyPI, the same scorer code it vendors.
  - The __main__ loop is the function `official_scores(test_file, pred_list, judge)`, returning
    the dict of scores and the final score instead of printing them. The judge-free variant
    (judge=None) skips eval_chatGPT and uses 0 for the judge parts, as ScoreDriveLm's lower bound.
  - torch.nn and argparse imports dropped (unused).

Usage (java on PATH; pip install -r tools/eval/requirements.txt):
  /tmp/venv/coco/bin/python tools/eval/drivelm_official.py \
      [--drivelm ../shared/data/drivelm-nuscenes-mini/data/test_eval.json] \
      [--out eval/testdata/drivelm_official_expected.json]
"""
import argparse
import json
import os
import re

import numpy as np


# ----------------------------------------------------------------------------------------------
# language_evaluation.CocoEvaluator(coco_types=["BLEU", "ROUGE_L", "CIDEr"]).run_evaluation

def coco_evaluate(predicts, answers, unk_token="_UNK"):
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer
    gts, res = {}, {}
    for i, (predict, _answers) in enumerate(zip(predicts, answers)):
        if type(_answers) == str:
            _answers = [_answers]
        gts[i] = [{"caption": a.replace(unk_token, "_UNKNOWN")} for a in _answers]
        res[i] = [{"caption": predict}]
    tokenizer = PTBTokenizer()
    gts = tokenizer.tokenize(gts)
    res = tokenizer.tokenize(res)
    out = {}
    score, _ = Bleu(4).compute_score(gts, res, verbose=0)
    for k, s in zip(["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4"], score):
        out[k] = s
    out["ROUGE_L"], _ = Rouge().compute_score(gts, res)
    out["CIDEr"], _ = Cider().compute_score(gts, res)
    return out


# ----------------------------------------------------------------------------------------------
# challenge/evaluation.py

class evaluation_suit():
    def __init__(self, judge=None):
        self.judge = judge
        self.GPT = []
        self.accuracy = {"answer": [], "GT": []}
        self.language = {"answer": [], "GT": []}
        self.match = {"match": {"answer": [], "GT": []}, "GPT": []}

    def eval_acc(self):
        scores = []
        for i in range(len(self.accuracy["answer"])):
            answer = self.accuracy["answer"][i]
            GT = self.accuracy["GT"][i]
            if answer == GT:
                scores.append(1.0)
            else:
                scores.append(0.0)

        scores = sum(scores) / len(scores)
        return scores

    def eval_chatGPT(self, data):
        scores = [self.judge(answer, GT) for answer, GT in data]  # was: Pool(32).map(GPT)
        scores = list(map(float, scores))
        scores = sum(scores) / len(scores)
        return scores

    def eval_language(self):
        answer = self.language["answer"]
        GT = self.language["GT"]
        results_gen = coco_evaluate(answer, GT)
        results_gen_dict = {
            f"val/{k}": v for k, v in results_gen.items()
        }
        return results_gen_dict

    def eval_match(self):
        outs1 = []
        for i in range(len(self.match["match"]["answer"])):
            answer = self.match["match"]["answer"][i]
            GT = self.match["match"]["GT"][i]
            _, F1_score = self.match_result(answer, GT)
            outs1.append(F1_score * 100)

        outs1 = sum(outs1) / len(outs1)
        if self.judge is None:  # changed: judge-free, the judge half counts 0
            return outs1, None
        outs2 = self.eval_chatGPT(self.match["GPT"])
        scores = (outs1 + outs2) / 2.0
        return outs1, scores

    def eval_graph(self, question):
        # check if answer in self.graph
        question_nums = re.findall(r'\d+\.\d+', question)
        question_nums = np.array([list(map(float, x.split()))[0] for x in question_nums]).reshape(-1, 2)
        question_nums = [list(i) for i in question_nums]
        for q in question_nums:
            if q not in self.graph:
                return False
        return True

    def match_result(self, answer, GT):
        """
        answer: [[1.,2.], [2., 3.]]
        GT: [[1., 2.], [2., 3.]]
        """
        answer_nums = re.findall(r'\d+\.\d+', answer)
        GT_nums = re.findall(r'\d+\.\d+', GT)
        # transform string into float
        if len(answer_nums) % 2 != 0:
            answer_nums = answer_nums[:-1]
        answer_nums = np.array([list(map(float, x.split()))[0] for x in answer_nums]).reshape(-1, 2)
        GT_nums = np.array([list(map(float, x.split()))[0] for x in GT_nums]).reshape(-1, 2)
        length = len(GT_nums)

        matched_out = []
        true_positives = 0
        false_positives = 0
        false_negatives = 0
        for pred in answer_nums:
            closest_distance = float('inf')
            closest_gt = None
            closest_id = None
            for i, gt in enumerate(GT_nums):
                distance = np.sum(np.abs(pred - gt))
                if distance < closest_distance:
                    closest_distance = distance
                    closest_gt = gt
                    closest_id = i

            if closest_distance < 16:
                true_positives += 1
                matched_out.append(closest_gt)
                GT_nums = np.delete(GT_nums, closest_id, axis=0)
            else:
                false_positives += 1

        false_negatives = length - true_positives
        precision = true_positives / (true_positives + false_positives + 1e-8)
        recall = true_positives / (true_positives + false_negatives + 1e-8)
        F1 = 2 * precision * recall / (precision + recall + 1e-8)

        return matched_out, F1

    def set_graph(self, answer, GT):
        self.graph, _ = self.match_result(answer, GT)
        self.graph = [list(i) for i in self.graph]

    def forward(self, tag, answer, GT):
        if 0 in tag:
            self.accuracy["answer"].append(answer)
            self.accuracy["GT"].append(GT)
        if 1 in tag:
            self.GPT.append((answer, GT))
        if 2 in tag:
            self.language["GT"].append(GT)
            self.language["answer"].append(answer)
        if 3 in tag:
            self.match["match"]["GT"].append(GT)
            self.match["match"]["answer"].append(answer)
            self.match["GPT"].append((answer, GT))

    def evaluation(self):
        scores = {}
        scores["accuracy"] = self.eval_acc()
        scores["chatgpt"] = self.eval_chatGPT(self.GPT) if self.judge is not None else None
        scores["language"] = self.eval_language()
        scores["match_f1"], scores["match"] = self.eval_match()
        return scores


def official_scores(test_file, pred_list, judge=None):
    """The __main__ block of challenge/evaluation.py, returning instead of printing."""
    pred_file = {pred_list[i]["id"]: pred_list[i] for i in range(len(pred_list))}
    evaluation = evaluation_suit(judge)
    counts = {0: 0, 1: 0, 2: 0, 3: 0}
    skipped = 0
    for scene_id in test_file.keys():
        scene_data = test_file[scene_id]['key_frames']

        for frame_id in scene_data.keys():
            frame_data_qa = scene_data[frame_id]['QA']
            first_flag = True

            for i, qa in enumerate(frame_data_qa["perception"] + frame_data_qa["prediction"] + frame_data_qa["planning"] + frame_data_qa["behavior"]):
                question = qa['Q']
                GT = qa['A']
                tag = qa['tag']
                idx = scene_id + "_" + frame_id + "_" + str(i)
                predict = pred_file[idx]["answer"]
                if first_flag:
                    first_flag = False
                    evaluation.set_graph(predict, GT)
                    evaluation.forward(tag, predict, GT)
                    for t in counts:
                        counts[t] += t in tag
                else:
                    if evaluation.eval_graph(question):
                        res = evaluation.forward(tag, predict, GT)
                        for t in counts:
                            counts[t] += t in tag
                    else:
                        skipped += 1

    output = evaluation.evaluation()

    scores = []
    weights = [0.4, 0.2, 0.2, 0.2]

    # chatGPT
    score = (output["chatgpt"] if output["chatgpt"] is not None else 0.0) / 100.
    scores.append(score)

    # language
    score = 0
    for idx, key in enumerate(output["language"].keys()):
        if idx < 4:
            score += output["language"][key] / 4. / 3.
        elif idx == 4:
            score += output["language"][key] / 3.
        else:
            score += output["language"][key] / 10. / 3.

    scores.append(score)

    # match
    match = output["match"] if output["match"] is not None else output["match_f1"] / 2.0
    score = match / 100.
    scores.append(score)

    # accuracy
    score = output["accuracy"]
    scores.append(score)

    final_score = sum([x * y for x, y in zip(scores, weights)])
    lang = output["language"]
    return {
        "accuracy": output["accuracy"],
        "chatgpt": output["chatgpt"],
        "bleu_1": lang["val/Bleu_1"], "bleu_2": lang["val/Bleu_2"],
        "bleu_3": lang["val/Bleu_3"], "bleu_4": lang["val/Bleu_4"],
        "rouge_l": float(lang["val/ROUGE_L"]), "cider": float(lang["val/CIDEr"]),
        "language": scores[1],
        "match_f1": output["match_f1"],
        "match": output["match"],
        "final_score": final_score,
        "counts": {"tag0_accuracy": counts[0], "tag1_judge": counts[1],
                   "tag2_language": counts[2], "tag3_match": counts[3]},
        "questions_skipped": skipped,
    }


# ----------------------------------------------------------------------------------------------
# Test cases.

def length_judge(answer, gt):
    """The deterministic stand-in judge of the tests (eval/drivelm_metrics_test.cc has the same):
    (3 * len(answer) + 7 * len(gt)) % 101, on UTF-8 byte lengths."""
    return str((3 * len(answer.encode()) + 7 * len(gt.encode())) % 101)


MATCH_CASES = [
    # (name, answer, gt)
    ("exact_two_points", "<c1,CAM_FRONT,100.5,200.5> and <c2,CAM_BACK,300.0,400.0>",
     "<c1,CAM_FRONT,100.5,200.5>, <c2,CAM_BACK,300.0,400.0>"),
    ("integers_ignored", "<c1,CAM_FRONT,100,200> <c2,CAM_BACK,300.0,400.0>",
     "<c1,CAM_FRONT,100,200>, <c2,CAM_BACK,300.0,400.0>"),
    ("greedy_first_takes_closest", "a 106.0,100.0 then 111.0,100.0", "g 100.0,100.0 110.0,100.0"),
    ("greedy_steals_the_only_point", "a 105.0,100.0 then 100.0,100.0", "g 100.0,100.0"),
    ("greedy_order_matters", "a 108.0,100.0 then 95.0,100.0", "g 100.0,100.0 112.0,100.0"),
    ("distance_16_is_a_miss", "a 116.0,100.0", "g 100.0,100.0"),
    ("distance_15_9_is_a_hit", "a 115.9,100.0", "g 100.0,100.0"),
    ("l1_not_euclidean", "a 108.5,108.0", "g 100.0,100.0"),
    ("tie_takes_first_gt", "a 105.0,100.0", "g 100.0,100.0 110.0,100.0"),
    ("odd_prediction_drops_last", "a 100.0,100.0 and 7.5", "g 100.0,100.0"),
    ("empty_answer", "", "g <c1,CAM_FRONT,100.5,200.5>"),
    ("empty_both", "", ""),
    ("answer_without_gt_points", "a 1.5,2.5", "no points here"),
    ("three_decimals_and_leading_zeros", "a 007.250,0.5", "g 7.25,0.500"),
    ("decimal_runs", "a 1.2.3,4.5.6", "g 1.2,4.5"),
    ("false_positive_far", "a 500.0,500.0 100.0,100.0", "g 100.0,100.0 300.0,300.0"),
]

GRAPH_CASES = [
    # (name, question, graph)
    ("no_numbers", "Is there a car?", []),
    ("in_graph", "What is <c1,CAM_FRONT,100.5,200.5> doing?", [[100.5, 200.5]]),
    ("not_in_graph", "What is <c2,CAM_FRONT,300.5,200.5> doing?", [[100.5, 200.5]]),
    ("float_equality", "Is <c1,CAM_FRONT,100.50,200.5> moving?", [[100.5, 200.5]]),
    ("integers_ignored", "Is <c1,CAM_FRONT,100,200> moving?", []),
    ("two_objects_one_missing", "Would <c1,CAM_FRONT,1.5,2.5> hit <c2,CAM_BACK,3.5,4.5>?",
     [[1.5, 2.5]]),
]


def synthetic_gt():
    """Two scenes, three frames, every tag, gating on and off, integer coordinates."""
    def qa(q, a, tag):
        return {"Q": q, "A": a, "tag": tag}
    return {
        "scene_a": {"key_frames": {
            "frame_1": {"QA": {
                "perception": [
                    qa("What are the important objects in the current scene?",
                       "There is a car <c1,CAM_FRONT,100.5,200.5> and a truck "
                       "<c2,CAM_BACK,800.0,450.0>.", [2]),
                    qa("What is the moving status of object <c1,CAM_FRONT,100.5,200.5>? "
                       "A. Going ahead. B. Stopped.", "B", [0]),
                    qa("Is <c2,CAM_BACK,800.0,450.0> a traffic sign?", "No.", [0]),
                ],
                "prediction": [
                    qa("What object should the ego vehicle notice first?",
                       "Firstly notice that <c1,CAM_FRONT,100.5,200.5>. The object is stopped, "
                       "so the ego vehicle should decelerate.", [3]),
                ],
                "planning": [
                    qa("What actions could the ego vehicle take based on "
                       "<c1,CAM_FRONT,100.5,200.5>?",
                       "The action is to decelerate gradually without braking.", [1]),
                    qa("In this scenario, what are safe actions to take for the ego vehicle?",
                       "Keep going at the same speed.", [1, 2]),
                ],
                "behavior": [
                    qa("Predict the behavior of the ego vehicle. A. Left. B. Straight.", "B", [0]),
                ],
            }},
            "frame_2": {"QA": {
                "perception": [
                    qa("What are the important objects in the current scene?",
                       "There is a bus <c1,CAM_FRONT_LEFT,300.0,300.0>.", [2]),
                    qa("Is <c1,CAM_FRONT_LEFT,300.0,300.0> moving?", "Yes.", [0]),
                ],
                "prediction": [],
                "planning": [
                    qa("What should the ego vehicle notice for <c1,CAM_FRONT_LEFT,300.0,300.0>?",
                       "Notice <c1,CAM_FRONT_LEFT,300.0,300.0> and <c3,CAM_BACK,10.0,10.0>.", [3]),
                ],
                "behavior": [
                    qa("Predict the behavior of the ego vehicle.", "A", [0]),
                ],
            }},
        }},
        "scene_b": {"key_frames": {
            "frame_3": {"QA": {
                "perception": [
                    qa("What are the important objects in the current scene?",
                       "There is a pedestrian <c1,CAM_FRONT,1000,500> and a cone "
                       "<c2,CAM_FRONT,1200.2,600.7>.", [2]),
                    qa("Is <c2,CAM_FRONT,1200.2,600.7> a cone?", "Yes.", [0]),
                ],
                "prediction": [
                    qa("Where will <c1,CAM_FRONT,1000,500> go?", "It will cross the road.",
                       [1, 2]),
                ],
                "planning": [],
                "behavior": [
                    qa("Predict the behavior of the ego vehicle.", "C", [0]),
                ],
            }},
        }},
    }


def synthetic_predictions(gt):
    ids = []
    for scene_id, scene in gt.items():
        for frame_id, frame in scene["key_frames"].items():
            qas = sum((frame["QA"][s] for s in ("perception", "prediction", "planning",
                                                 "behavior")), [])
            for i, qa in enumerate(qas):
                ids.append((scene_id + "_" + frame_id + "_" + str(i), qa))
    answers = {
        # frame_1: the first answer finds c1 (off by 3 px) but misses c2: c2's question skipped.
        "scene_a_frame_1_0": "There is a car <c1,CAM_FRONT,103.5,200.5> and a bus "
                             "<c2,CAM_BACK,500.0,450.0>.",
        "scene_a_frame_1_1": "B",
        "scene_a_frame_1_2": "No.",  # skipped by the gating
        "scene_a_frame_1_3": "Firstly notice that <c1,CAM_FRONT,105.5,195.5>. Then "
                             "<c2,CAM_BACK,800.0,450.0>.",
        "scene_a_frame_1_4": "The action is to keep going at the same speed.",
        "scene_a_frame_1_5": "Keep going at the same speed.",
        "scene_a_frame_1_6": "B.",  # not "B": wrong under exact match
        # frame_2: an empty first answer: the graph is empty, questions naming c1 are skipped.
        "scene_a_frame_2_0": "",
        "scene_a_frame_2_1": "Yes.",
        "scene_a_frame_2_2": "Notice <c1,CAM_FRONT_LEFT,300.0,300.0>.",
        "scene_a_frame_2_3": "A",
        # frame_3: integer coordinates never gate nor match.
        "scene_b_frame_3_0": "There is a pedestrian <c1,CAM_FRONT,1000,500> and a cone "
                             "<c2,CAM_FRONT,1201.2,600.7>.",
        "scene_b_frame_3_1": "No.",
        "scene_b_frame_3_2": "It will stop.",
        "scene_b_frame_3_3": "C",
    }
    preds = [{"id": i, "question": qa["Q"], "answer": answers[i]} for i, qa in ids]
    # A duplicate id: the later entry wins.
    preds.insert(0, {"id": "scene_a_frame_1_1", "question": "", "answer": "A"})
    return preds


def real_predictions(test_file, mode):
    preds = []
    for scene_id, scene in test_file.items():
        for frame_id, frame in scene["key_frames"].items():
            qas = sum((frame["QA"][s] for s in ("perception", "prediction", "planning",
                                                 "behavior")), [])
            for i, qa in enumerate(qas):
                if mode == "gt":
                    answer = qa["A"]
                elif mode == "first_sentence":
                    answer = qa["A"].split(". ")[0]
                else:
                    raise ValueError(mode)
                preds.append({"id": scene_id + "_" + frame_id + "_" + str(i),
                              "question": qa["Q"], "answer": answer})
    return preds


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--drivelm",
                    default="../shared/data/drivelm-nuscenes-mini/data/test_eval.json")
    ap.add_argument("--out", default="eval/testdata/drivelm_official_expected.json")
    args = ap.parse_args()

    suit = evaluation_suit()
    match = []
    for name, answer, gt in MATCH_CASES:
        matched, f1 = suit.match_result(answer, gt)
        match.append({"name": name, "answer": answer, "gt": gt, "f1": f1,
                      "matched_gt": [[float(x) for x in m] for m in matched]})
    graph = []
    for name, question, g in GRAPH_CASES:
        suit.graph = g
        graph.append({"name": name, "question": question, "graph": g,
                      "in_graph": suit.eval_graph(question)})

    gt = synthetic_gt()
    preds = synthetic_predictions(gt)
    synthetic = {
        "ground_truth": gt,
        "predictions": preds,
        "no_judge": official_scores(gt, preds, None),
        "length_judge": official_scores(gt, preds, length_judge),
    }
    doc = {
        "generator": "tools/eval/drivelm_official.py",
        "judge": "(3 * len(answer) + 7 * len(gt)) % 101, UTF-8 byte lengths",
        "match_result": match,
        "eval_graph": graph,
        "synthetic": synthetic,
    }
    if os.path.exists(args.drivelm):
        with open(args.drivelm) as f:
            test_file = json.load(f)
        doc["real_mini"] = {
            "file": "drivelm-nuscenes-mini/data/test_eval.json",
            "gt_answers": official_scores(test_file, real_predictions(test_file, "gt"),
                                          length_judge),
            "first_sentence": official_scores(
                test_file, real_predictions(test_file, "first_sentence"), None),
        }
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
