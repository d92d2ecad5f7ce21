#!/usr/bin/env python3
"""Computes the reference caption metrics of eval/testdata/caption_pairs.json with the COCO
caption evaluation package (pycocoevalcap from PyPI; its PTBTokenizer runs Stanford CoreNLP
3.4.1 through Java) and writes eval/testdata/caption_reference.json for
eval/coco_caption_metrics_test.cc.

Usage (needs java on PATH):
  python3 -m venv /tmp/venv/coco && /tmp/venv/coco/bin/pip install -r tools/eval/requirements.txt
  /tmp/venv/coco/bin/python tools/eval/make_caption_reference.py \
      [--pairs eval/testdata/caption_pairs.json] [--out eval/testdata/caption_reference.json]

The scoring path is the one DriveLM's challenge/evaluation.py takes through the
`language_evaluation` package's CocoEvaluator(coco_types=["BLEU", "ROUGE_L", "CIDEr"]): the
references (with "_UNK" replaced by "_UNKNOWN") are tokenized in one batch, the predictions in
another, then pycocoevalcap's Bleu(4), Rouge() and Cider() score them. language_evaluation
vendors these same pycocoevalcap files; we call the PyPI package directly.
"""
import argparse
import json
import platform
import subprocess
from importlib import metadata

from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer, STANFORD_CORENLP_3_4_1_JAR


def java_version():
    out = subprocess.run(["java", "-version"], stderr=subprocess.PIPE, stdout=subprocess.PIPE)
    return (out.stderr or out.stdout).decode().splitlines()[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", default="eval/testdata/caption_pairs.json")
    ap.add_argument("--out", default="eval/testdata/caption_reference.json")
    args = ap.parse_args()
    with open(args.pairs) as f:
        pairs = json.load(f)["pairs"]

    gts = {i: [{"caption": p["reference"].replace("_UNK", "_UNKNOWN")}]
           for i, p in enumerate(pairs)}
    res = {i: [{"caption": p["prediction"]}] for i, p in enumerate(pairs)}
    tokenizer = PTBTokenizer()
    gts = tokenizer.tokenize(gts)
    res = tokenizer.tokenize(res)

    bleu, bleu_per = Bleu(4).compute_score(gts, res, verbose=0)
    rouge, rouge_per = Rouge().compute_score(gts, res)
    cider, cider_per = Cider().compute_score(gts, res)

    doc = {
        "generator": "tools/eval/make_caption_reference.py",
        "pairs_file": args.pairs,
        "versions": {
            "pycocoevalcap": metadata.version("pycocoevalcap"),
            "numpy": metadata.version("numpy"),
            "python": platform.python_version(),
            "java": java_version(),
            "corenlp_jar": STANFORD_CORENLP_3_4_1_JAR,
        },
        "corpus": {
            "bleu_1": bleu[0], "bleu_2": bleu[1], "bleu_3": bleu[2], "bleu_4": bleu[3],
            "rouge_l": float(rouge), "cider": float(cider),
        },
        "per_pair": [
            {
                "id": p["id"],
                "prediction_tokens": res[i][0],
                "reference_tokens": gts[i][0],
                "bleu": [float(bleu_per[k][i]) for k in range(4)],
                "rouge_l": float(rouge_per[i]),
                "cider": float(cider_per[i]),
            }
            for i, p in enumerate(pairs)
        ],
    }
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print("corpus:", json.dumps(doc["corpus"]))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
