import csv

import pytest

from ovavebench.errors import OvavebenchError
from ovavebench.taxonomy import GROUPS, default_classes_path, load_taxonomy


def test_classes_file_matches_published_categories_and_vggsound_labels(ovave_ref, reference, classes_csv):
    taxonomy = load_taxonomy(classes_csv, expected_classes=67)
    published = [line.strip() for line in open(ovave_ref / "ovave_categories.csv") if line.strip()]
    assert taxonomy.names == published  # same classes, same group-block order
    groups = [c.group for c in taxonomy.classes]
    assert [groups.count(g) for g in GROUPS] == [17, 15, 17, 9, 9]
    assert groups == sorted(groups, key=GROUPS.index)  # contiguous blocks in paper order
    seen = [line.strip() for line in open(ovave_ref / "ovave_train_close_categories.csv") if line.strip()]
    assert sorted(taxonomy.seen_names) + ["other"] == seen
    assert sorted(taxonomy.names) + ["other"] == [
        line.strip() for line in open(ovave_ref / "ovave_total_close_open_categories.csv") if line.strip()
    ]
    unseen_per_group = [sum(1 for c in taxonomy.classes if c.group == g and not c.seen) for g in GROUPS]
    assert unseen_per_group == [5, 5, 5, 3, 3]
    vgg_labels = [row[0] for row in csv.reader(open(reference / "vggsound" / "stat.csv"))]
    for cls in taxonomy.classes:
        matches = [label for label in vgg_labels if label.split(",")[0] == cls.name]
        assert matches == [cls.vggsound_label], cls.name


def test_default_path_is_the_shipped_taxonomy(classes_csv):
    assert load_taxonomy().names == load_taxonomy(default_classes_path()).names


@pytest.mark.parametrize(
    "rows, message",
    [
        (["a,a,human,true", "a,b,human,true"], "duplicate class name 'a'"),
        (["a,a,robots,true"], "unknown group 'robots'"),
        (["a,a,human,maybe"], "seen must be true or false"),
        (["a,a,human"], "expected 4 columns"),
        (["background,x,human,true"], "reserved for background"),
    ],
)
def test_bad_taxonomy_gets_error_naming_file_and_line(tmp_path, rows, message):
    path = tmp_path / "classes.csv"
    path.write_text("name,vggsound_label,group,seen\n" + "\n".join(rows) + "\n")
    with pytest.raises(OvavebenchError) as info:
        load_taxonomy(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_taxonomy_class_count_is_checked(tmp_path):
    path = tmp_path / "classes.csv"
    path.write_text("name,vggsound_label,group,seen\na,a,human,true\n")
    with pytest.raises(OvavebenchError, match="expected 67 classes, found 1"):
        load_taxonomy(path, expected_classes=67)
