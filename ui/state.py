"""Session-state and widget keys, in one place so pages and tests agree on them.

Cross-page keys are unprefixed; a page's own keys start with the page's name.
"""

from __future__ import annotations

# Cross-page selections (plain keys, not widget values, so they survive page switches).
CURRENT_DATASET = "current_dataset_id"

# Query parameters and the pages (url paths) they belong to; app.py drops the others' on navigation.
# ?run=ID follows a run from fine-tuning to evaluation and playground; ?dataset=ID is the dataset a
# form works on; ?runs=1,2 is the compare page's selection.
QUERY_PAGES: dict[str, tuple[str, ...]] = {
    "run": ("finetune", "evaluation", "playground"),
    "dataset": ("finetune", "models", "sweep"),
    "runs": ("compare",),
}

# Sign-in (ui/access.py): this session's identity {email, role, signed_in}, set before any page runs.
ACCESS_IDENTITY = "access_identity"
ACCESS_SIGN_IN = "access_sign_in"
ACCESS_SIGN_OUT = "access_sign_out"
ACCESS_SIGN_OUT_UNKNOWN = "access_sign_out_unknown"

# Datasets page
DATASETS_UPLOAD = "datasets_upload"
DATASETS_PARSED_ID = "datasets_parsed_id"  # (upload id, encoding) the form was filled from; frame cached
DATASETS_ENCODING = "datasets_encoding"
DATASETS_PICK_READING = "datasets_pick_reading_"  # + codec: "read it as this" under a preview
DATASETS_TASK = "datasets_task"
DATASETS_MAP_PREFIX = "datasets_map_"
DATASETS_VALIDATION = "datasets_validation_size"
DATASETS_TEST = "datasets_test_size"
DATASETS_SEED = "datasets_seed"
DATASETS_GROUP = "datasets_group_column"
DATASETS_SPLIT_COLUMN = "datasets_split_column"
DATASETS_MODEL = "datasets_model"
DATASETS_MAX_LENGTH = "datasets_max_length"
DATASETS_NAME = "datasets_name"
DATASETS_SAVE = "datasets_save"
DATASETS_LIST_SELECT = "datasets_list_select"

# Home / gallery
GALLERY_IMPORT_PREFIX = "gallery_import_"

# Models page
MODELS_PREPARE = "models_prepare"
MODELS_PROBE = "models_probe"
MODELS_SELECT = "models_select"
MODELS_CHOICE = "models_choice"  # the picked model as a plain key: survives a page change and a rerun
MODELS_DATASET = "models_dataset"  # the dataset the cost line is computed for
MODELS_LOCAL_PATH = "models_local_path"
MODELS_ADD_LOCAL = "models_add_local"
MODELS_HUB_ID = "models_hub_id"
MODELS_ADD_HUB = "models_add_hub"

# Fine-tuning page
FINETUNE_DATASET = "finetune_dataset"
FINETUNE_MODEL = "finetune_model"
FINETUNE_TASK = "finetune_task"
FINETUNE_PRESET = "finetune_preset"
FINETUNE_START = "finetune_start"
FINETUNE_NAME = "finetune_name"
FINETUNE_RUN_SELECT = "finetune_run_select"
FINETUNE_CANCEL = "finetune_cancel"
FINETUNE_RESUME = "finetune_resume"
FINETUNE_DELETE = "finetune_delete"
FINETUNE_FIELD_PREFIX = "finetune_field_"
# The preference (DPO) form, shown instead of the usual settings when the dataset holds pairs
FINETUNE_PREF_PARENT = "finetune_pref_parent"
FINETUNE_PREF_BETA = "finetune_pref_beta"
FINETUNE_PREF_LEARNING_RATE = "finetune_pref_learning_rate"
FINETUNE_PREF_STEPS = "finetune_pref_steps"
FINETUNE_PREF_MAX_LENGTH = "finetune_pref_max_length"
FINETUNE_PREF_LORA_RANK = "finetune_pref_lora_rank"
FINETUNE_PREF_NAME = "finetune_pref_name"
FINETUNE_PREF_START = "finetune_pref_start"
FINETUNE_MARGIN_CHART = "finetune_margin_chart"
EVALUATION_PREF_PAIRS = "evaluation_pref_pairs"
EVALUATION_PREF_ANSWERS = "evaluation_pref_answers"
EVALUATION_PREF_EXAMPLES = "evaluation_pref_examples"
EVALUATION_PREF_REVIEW = "evaluation_pref_review"

# Evaluation page
EVALUATION_RUN = "evaluation_run"
EVALUATION_SPLIT = "evaluation_split"
EVALUATION_SAVE_BASELINE = "evaluation_save_baseline"
EVALUATION_NORMALISE = "evaluation_normalise"
EVALUATION_TRUE_FILTER = "evaluation_true_filter"
EVALUATION_PRED_FILTER = "evaluation_pred_filter"
EVALUATION_ONNX_MEASURE = "evaluation_onnx_measure"
EVALUATION_ONNX_TABLE = "evaluation_onnx_table"
EXPORT_FORMAT = "export_format"

# Playground page
PLAYGROUND_TAB = "playground_tab"
PLAYGROUND_RUN = "playground_run"
PLAYGROUND_TEXT = "playground_text"
PLAYGROUND_PREDICT = "playground_predict"
PLAYGROUND_BATCH = "playground_batch_upload"
PLAYGROUND_BATCH_COLUMN = "playground_batch_column"
PLAYGROUND_DOWNLOAD = "playground_download"

# Compare page
COMPARE_RUNS = "compare_runs"
COMPARE_X = "compare_x_axis"
COMPARE_METRIC = "compare_metric"
COMPARE_FLIP_A = "compare_flip_a"
COMPARE_FLIP_B = "compare_flip_b"
COMPARE_FLIP_SPLIT = "compare_flip_split"
COMPARE_SBS_PROMPTS = "compare_sbs_prompts"
COMPARE_SBS_SEED = "compare_sbs_seed"
COMPARE_SBS_GO = "compare_sbs_go"
COMPARE_REPORT = "compare_report"
COMPARE_EXPORT_RUN = "compare_export_run"
COMPARE_EXPORT = "compare_export"
COMPARE_EXPORT_DOWNLOAD = "compare_export_download"
COMPARE_HUB_REPO = "compare_hub_repo"
COMPARE_HUB_TOKEN = "compare_hub_token"
COMPARE_HUB_PUSH = "compare_hub_push"
COMPARE_LC_RUN = "compare_lc_run"
COMPARE_LC_START = "compare_lc_start"
COMPARE_LC_PARENT = "compare_lc_parent"

# Review page
REVIEW_SELECT = "review_select"
REVIEW_REVIEWER = "review_reviewer"
REVIEW_VOTE_FIRST = "review_vote_first"
REVIEW_VOTE_TIE = "review_vote_tie"
REVIEW_VOTE_SECOND = "review_vote_second"
REVIEW_CSV = "review_csv_download"
REVIEW_NEW_NAME = "review_new_name"
REVIEW_NEW_A = "review_new_model_a"
REVIEW_NEW_B = "review_new_model_b"
REVIEW_NEW_COUNT = "review_new_count"
REVIEW_NEW_TEXTS = "review_new_texts"
REVIEW_NEW_CREATE = "review_new_create"

# Evaluation page: answer quality and prompt baselines
EVALUATION_ANSWER_METRIC = "evaluation_answer_metric"
EVALUATION_ANSWER_SEARCH = "evaluation_answer_search"
EVALUATION_ANSWER_BELOW = "evaluation_answer_below"
EVALUATION_ANSWER_EXAMPLES = "evaluation_answer_examples"
EVALUATION_ANSWER_SCORE = "evaluation_answer_score"
EVALUATION_BASELINE_SHOTS = "evaluation_baseline_shots"
EVALUATION_BASELINE_EXAMPLES = "evaluation_baseline_examples"
EVALUATION_BASELINE_RUN = "evaluation_baseline_run"
EVALUATION_JUDGE = "evaluation_judge"

# Sweep page (hyper-parameter sweeps)
SWEEP_DATASET = "sweep_dataset"
SWEEP_MODEL = "sweep_model"
SWEEP_PARENT = "sweep_parent"  # a preference sweep's "Start from" (run:N or a catalogue chat model)
SWEEP_PRESET = "sweep_preset"
SWEEP_SPACE = "sweep_space"
SWEEP_SPACE_FOR = "sweep_space_for"  # (task, model) whose default the space box was filled with
SWEEP_TRIALS = "sweep_trials"
SWEEP_MINUTES = "sweep_minutes"
SWEEP_PARALLEL = "sweep_parallel"
SWEEP_START = "sweep_start"
SWEEP_SELECT = "sweep_select"
SWEEP_LEADERBOARD = "sweep_leaderboard"
SWEEP_CHART_PREFIX = "sweep_chart_"
SWEEP_FINAL = "sweep_final"

# Tables, charts and buttons (every widget has its key here; issue 26). A name ending in PREFIX
# starts keys built per item (a chart name, a field, a dataset version).

# Home page: displays
HOME_DATASETS = "home_datasets"
HOME_RUNS = "home_runs"

# Datasets page: displays
DATASETS_GALLERY_PREFIX = "datasets_gallery_"
DATASETS_PREVIEW = "datasets_preview"
DATASETS_REPORT = "datasets_report"
DATASETS_SAVED_MAPPING = "datasets_saved_mapping"
DATASETS_SAVED_PREFIX = "datasets_saved_"
DATASETS_TYPES = "datasets_types"
DATASETS_VERSIONS = "datasets_versions"

# Models page: displays
MODELS_LANGUAGES = "models_languages"
MODELS_TABLE = "models_table"

# Fine-tuning page: displays
FINETUNE_CV_LOSS = "finetune_cv_loss"
FINETUNE_CV_METRIC = "finetune_cv_metric"
FINETUNE_CV_SUMMARY = "finetune_cv_summary"
FINETUNE_LOSS_CHART = "finetune_loss_chart"
FINETUNE_MERGE_LORA = "finetune_merge_lora"
FINETUNE_METRIC_CHART = "finetune_metric_chart"
FINETUNE_RUNS_TABLE = "finetune_runs_table"
FINETUNE_SAMPLES = "finetune_samples"

# Evaluation page: displays
EVALUATION_ANSWER_HISTOGRAM = "evaluation_answer_histogram"
EVALUATION_ANSWER_METRICS = "evaluation_answer_metrics"
EVALUATION_ANSWER_WORST = "evaluation_answer_worst"
EVALUATION_AVERAGES = "evaluation_averages"
EVALUATION_BASELINES = "evaluation_baselines"
EVALUATION_CALIBRATION = "evaluation_calibration"
EVALUATION_CONFIDENCE = "evaluation_confidence"
EVALUATION_CONFUSION = "evaluation_confusion"
EVALUATION_IMPORTANCE = "evaluation_importance"
EVALUATION_MISCLASSIFIED = "evaluation_misclassified"
EVALUATION_NER_BASELINES = "evaluation_ner_baselines"
EVALUATION_NER_CATEGORY = "evaluation_ner_category"
EVALUATION_NER_CONFUSION = "evaluation_ner_confusion"
EVALUATION_NER_ERRORS = "evaluation_ner_errors"
EVALUATION_NER_ERROR_TABLE = "evaluation_ner_error_table"
EVALUATION_NER_F1 = "evaluation_ner_f1"
EVALUATION_NER_REPORT = "evaluation_ner_report"
EVALUATION_PER_CLASS = "evaluation_per_class"
EVALUATION_PR = "evaluation_pr"
EVALUATION_REPORT = "evaluation_report"
EVALUATION_RESIDUALS = "evaluation_residuals"
EVALUATION_ROC = "evaluation_roc"
EVALUATION_SCALARS = "evaluation_scalars"
EVALUATION_SCATTER = "evaluation_scatter"
EVALUATION_VERDICT = "evaluation_verdict"
EVALUATION_WORST = "evaluation_worst"

# Playground page: displays
PLAYGROUND_BATCH_PREDICT = "playground_batch_predict"
PLAYGROUND_BATCH_TABLE = "playground_batch_table"
PLAYGROUND_GEN_PREFIX = "playground_gen_"
PLAYGROUND_NER_PREFIX = "playground_ner_"
PLAYGROUND_PROBABILITIES = "playground_probabilities"
PLAYGROUND_TABULAR_PREFIX = "playground_tab_"

# Compare page: displays
COMPARE_ANSWER_QUALITY = "compare_answer_quality"
COMPARE_CONFIG_DIFF = "compare_config_diff"
COMPARE_CURVES = "compare_curves"
COMPARE_FINAL = "compare_final"
COMPARE_FLIPS = "compare_flips"
COMPARE_LC_CHART = "compare_lc_chart"
COMPARE_LC_CHILDREN = "compare_lc_children"
COMPARE_SBS_STORED = "compare_sbs_stored"
COMPARE_SBS_TABLE = "compare_sbs_table"
COMPARE_VERDICT = "compare_verdict"

# Label checks (Evaluation page) and lineage (Datasets page), issue 23
EVALUATION_CHECK_TABLE = "evaluation_check_table"
EVALUATION_CHECK_ROW = "evaluation_check_row"
EVALUATION_CHECK_VERDICT = "evaluation_check_verdict"
EVALUATION_CHECK_LABEL = "evaluation_check_label"
EVALUATION_CHECK_TAGS = "evaluation_check_tags"
EVALUATION_CHECK_REASON = "evaluation_check_reason"
EVALUATION_CHECK_SAVE = "evaluation_check_save"
EVALUATION_CHECK_CONFLICTS = "evaluation_check_conflicts"
EVALUATION_CHECK_MAKE = "evaluation_check_make_version"
EVALUATION_CHECK_NEXT = "evaluation_check_next_row"  # session state: the row the form moves to after a save
DATASETS_LINEAGE_CHANGES = "datasets_lineage_changes"
DATASETS_TRAIN_AGAIN = "datasets_train_again"
COMPARE_SAME_ROWS = "compare_same_rows"

# Preference data (issue 23): corrections in the Playground and on the Evaluation page, pairs from
# a review's votes or the judge, the preview of a preference dataset
PREF_BETTER_PREFIX = "pref_better_"         # the better answer under a playground answer (+ its id)
PREF_SAVE_BETTER = "pref_save_better"
PREF_THUMB_UP = "pref_thumb_up"             # which sampled answer is better / worse
PREF_THUMB_DOWN = "pref_thumb_down"
PREF_SAVE_THUMBS = "pref_save_thumbs"
PREF_EVAL_PICK = "pref_eval_pick"           # which of the worst answers to correct
PREF_EVAL_BETTER_PREFIX = "pref_eval_better_"
PREF_EVAL_SAVE = "pref_eval_save"
PREF_REVIEW_NAME = "pref_review_name"
PREF_FROM_VOTES = "pref_from_votes"
PREF_FROM_JUDGE = "pref_from_judge"
PREF_PREVIEW = "pref_preview"
PREF_PREVIEW_SPLIT = "pref_preview_split"
