"""Computing half of the study: data, model, training, evaluation, analysis (torch and numpy)."""
