"""hello-numpy client: a tiny NumPy "training" that FLARE runs on every site.

Each round it receives the global model, adds 1 to every weight (its local update) and reports a validation metric,
so the server's log shows "validation metric X from client site-N" for every round.
"""

import numpy as np
import nvflare.client as flare
from nvflare.app_common.abstract.fl_model import FLModel


def main():
    flare.init()
    site = flare.get_site_name()
    while flare.is_running():
        model = flare.receive()
        params = {k: np.asarray(v) + 1.0 for k, v in model.params.items()}
        current_round = model.current_round or 0
        accuracy = round(min(0.99, 0.5 + 0.1 * (current_round + 1)), 4)
        print(f"{site}: round {current_round}, accuracy {accuracy}")
        flare.send(FLModel(params=params, metrics={"accuracy": accuracy}, meta={"NUM_STEPS_CURRENT_ROUND": 1}))


if __name__ == "__main__":
    main()
