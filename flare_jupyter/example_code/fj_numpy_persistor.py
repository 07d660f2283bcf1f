"""NVFlare's NumPy persistor, starting from the job's initial model (by flare-jupyter)."""

import numpy as np
from nvflare.app_common.np.np_model_persistor import NPModelPersistor


class InitialNPModelPersistor(NPModelPersistor):
    def __init__(self, model, model_dir="models", model_name="server.npy"):
        super().__init__(model_dir=model_dir, model_name=model_name)
        self.default_data = np.asarray(model, dtype=np.float32)
