# Set-up (the same in every lesson): on Colab, fetch the course and install its helpers without touching
# Colab's own TensorFlow and Keras; anywhere else it only imports TensorFlow quietly.
import os
import shutil
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # hide TensorFlow's C++ log lines; Python errors still show
if "google.colab" in sys.modules:
    COURSE_DIR = "/content/gans-and-cnns"
    git = ["git", "-C", COURSE_DIR]
    gone = subprocess.run(git + ["ls-files", "--deleted", "-z"], capture_output=True, text=True)
    gone = [f for f in gone.stdout.split("\0") if f] if gone.returncode == 0 else []
    repaired = bool(gone) and subprocess.run(git + ["checkout", "HEAD", "--", *gone], capture_output=True).returncode == 0
    if repaired:
        print(f"Repaired {COURSE_DIR}: restored {len(gone)} missing files from its git history")
    fresh = (gone and not repaired) or not os.path.isfile(f"{COURSE_DIR}/course_utils/__init__.py")
    if fresh:  # absent, empty, or a clone that was interrupted before its files were written
        if os.path.exists(COURSE_DIR):
            print(f"{COURSE_DIR} is empty or a broken clone: deleting it and cloning the course again")
            shutil.rmtree(COURSE_DIR)
        subprocess.run(["git", "clone", "--quiet", "--depth", "1",
                        "https://github.com/image-synthesis-course/gans-and-cnns", COURSE_DIR], check=True)
    if fresh or repaired:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "-e", COURSE_DIR], check=True)
    sys.path.insert(0, COURSE_DIR)

from course_utils.device import quiet_tensorflow_startup

tf = quiet_tensorflow_startup()  # import TensorFlow once, without its C++ start-up log lines
