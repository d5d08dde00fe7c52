import numpy as np
import pytest

from zoo import metrics


def test_average_precision_hand_computed():
    # ranking: rel, non, rel, non, rel -> precisions at hits 1/1, 2/3, 3/5
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    relevant = np.array([1, 0, 1, 0, 1], bool)
    assert metrics.average_precision(scores, relevant) == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)
    assert metrics.average_precision(scores, np.zeros(5, bool)) == 0.0


def test_reid_metrics_hand_computed():
    # 2 queries in 2-D; gallery ids [0, 1, 0, 1]
    query = np.array([[1.0, 0.0], [0.0, 1.0]])
    qids = np.array([0, 1])
    gallery = np.array([[1.0, 0.1], [0.9, 0.5], [0.1, 1.0], [0.0, 1.0]])
    gids = np.array([0, 1, 0, 1])
    # query 0 ranks g0 (id0), g1 (id1), g2 (id0), g3 -> AP = (1 + 2/3)/2, rank-1 hit
    # query 1 ranks g3 (id1), g2 (id0), g1 (id1), g0 -> AP = (1 + 2/3)/2, rank-1 hit
    out = metrics.reid_metrics(query, qids, gallery, gids)
    assert out["rank1"] == 1.0
    assert out["mAP"] == pytest.approx((1 + 2 / 3) / 2)
    # swap the identities of the gallery: both queries miss at rank 1
    out = metrics.reid_metrics(query, qids, gallery, 1 - gids)
    assert out["rank1"] == 0.0
    assert out["rank5"] == 1.0
    assert out["mAP"] == pytest.approx((1 / 2 + 2 / 4) / 2)


def test_reid_excludes_same_camera_matches():
    query = np.array([[1.0, 0.0]])
    gallery = np.array([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]])
    gids = np.array([0, 1, 0])
    # g0 is the same identity seen by the same camera: junk, removed; the true match g2 ranks first
    out = metrics.reid_metrics(query, np.array([0]), gallery, gids, np.array([5]), np.array([5, 6, 6]))
    assert out["rank1"] == 1.0 and out["mAP"] == 1.0 and out["queries"] == 1
    # a query whose only match is junk is skipped
    out = metrics.reid_metrics(query, np.array([0]), gallery[:2], gids[:2], np.array([5]), np.array([5, 6]))
    assert out["queries"] == 0


def test_face_verification_separable_and_random():
    rng = np.random.default_rng(0)
    ids = np.repeat(np.arange(10), 6)
    centres = rng.standard_normal((10, 32)) * 5
    emb = centres[ids] + rng.standard_normal((60, 32)) * 0.1
    i, j = np.triu_indices(60, 1)
    pairs, same = np.stack([i, j], 1), ids[i] == ids[j]
    good = metrics.face_verification(emb, pairs, same)
    assert good["accuracy"] == 1.0 and good["tar@far=0.01"] == 1.0
    bad = metrics.face_verification(rng.standard_normal((60, 32)), pairs, same)
    assert bad["tar@far=0.01"] < 0.2


def test_tar_at_far():
    scores = np.array([0.9, 0.8, 0.3, 0.7, 0.6, 0.2])
    same = np.array([1, 1, 1, 0, 0, 0], bool)
    assert metrics.tar_at_far(scores, same, 0.0) == pytest.approx(2 / 3)  # threshold 0.7, strict
    assert metrics.tar_at_far(scores, same, 1 / 3) == pytest.approx(2 / 3)  # threshold 0.6
    assert metrics.tar_at_far(scores, same, 1.0) == 1.0


def test_knn_accuracy():
    train = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    labels = np.array([0, 0, 1, 1])
    test = np.array([[1.0, 0.2], [0.2, 1.0]])
    assert metrics.knn_accuracy(train, labels, test, np.array([0, 1]), k=2) == 1.0
    assert metrics.knn_accuracy(train, labels, test, np.array([1, 0]), k=2) == 0.0


def test_fidelity_identical_is_perfect():
    rng = np.random.default_rng(1)
    ref = rng.standard_normal((50, 16)) + 3.0
    f = metrics.fidelity(ref, ref.copy())
    assert f["centered_cosine"] == pytest.approx(1.0)
    assert f["topk_agreement"] == 1.0
    assert f["relative_l2"] == 0.0


def test_fidelity_decreases_with_perturbation():
    rng = np.random.default_rng(2)
    ref = rng.standard_normal((80, 16))
    small = metrics.fidelity(ref, ref + 0.05 * rng.standard_normal(ref.shape))
    large = metrics.fidelity(ref, ref + 1.0 * rng.standard_normal(ref.shape))
    assert 1.0 > small["centered_cosine"] > large["centered_cosine"]
    assert small["topk_agreement"] > large["topk_agreement"]
    assert 0 < small["relative_l2"] < large["relative_l2"]


def test_centered_cosine_sees_through_collapse():
    # embeddings dominated by one shared direction: raw cosine ~1 even for unrelated residuals
    rng = np.random.default_rng(3)
    shared = np.full(16, 20.0)
    ref = shared + rng.standard_normal((40, 16))
    cand = shared + rng.standard_normal((40, 16))
    f = metrics.fidelity(ref, cand)
    assert f["cosine"] > 0.99
    assert abs(f["centered_cosine"]) < 0.3


def test_fidelity_shape_mismatch():
    with pytest.raises(ValueError, match="one shape"):
        metrics.fidelity(np.zeros((3, 4)), np.zeros((3, 5)))


def test_metrics_do_not_import_torch():
    import subprocess
    import sys

    code = "import sys, zoo.metrics, zoo.evaluation, zoo.cli, zoo; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
