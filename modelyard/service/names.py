"""Friendly random run names, as MLflow gives runs without one."""

from __future__ import annotations

import random

_ADJECTIVES = ["able", "amazing", "bold", "brave", "bright", "calm", "capable", "charming", "clean", "clever", "cool", "crisp", "curious", "dapper", "dashing", "delicate", "eager", "fearless", "gentle", "gifted", "glamorous", "handsome", "honest", "humble", "illustrious", "intelligent", "judicious", "kindly", "learned", "lyrical", "magnificent", "merciful", "nimble", "orderly", "placid", "polite", "popular", "puzzled", "redolent", "resilient", "rogue", "rumbling", "salty", "sassy", "secretive", "selective", "shivering", "silent", "skillful", "smiling", "spiffy", "stately", "suave", "thoughtful", "treasured", "trusting", "unequaled", "upbeat", "useful", "valuable", "victorious", "vaunted", "welcoming", "whimsical", "wise", "youthful", "zealous"]
_NOUNS = ["ant", "ape", "asp", "auk", "bass", "bat", "bear", "bee", "bird", "boar", "bug", "calf", "carp", "cat", "chimp", "cod", "colt", "conch", "cow", "crab", "crane", "croc", "crow", "cub", "deer", "doe", "dog", "dolphin", "donkey", "dove", "duck", "eel", "elk", "fawn", "finch", "fish", "flea", "fly", "foal", "fowl", "fox", "frog", "gnat", "gnu", "goat", "goose", "grouse", "grub", "gull", "hare", "hawk", "hen", "hog", "horse", "hound", "jay", "kit", "kite", "koi", "lamb", "lark", "loon", "lynx", "mare", "midge", "mink", "mole", "moose", "moth", "mouse", "mule", "newt", "owl", "ox", "panda", "penguin", "perch", "pig", "pug", "quail", "ram", "rat", "ray", "robin", "roo", "rook", "seal", "shad", "shark", "sheep", "shoat", "shrew", "shrike", "skink", "skunk", "sloth", "slug", "smelt", "snail", "snake", "snipe", "sow", "sponge", "squid", "squirrel", "stag", "steed", "stoat", "stork", "swan", "tern", "toad", "trout", "turtle", "vole", "wasp", "whale", "wolf", "worm", "wren", "yak", "zebra"]


def random_run_name(rng: random.Random | None = None) -> str:
    r = rng or random
    return f"{r.choice(_ADJECTIVES)}-{r.choice(_NOUNS)}-{r.randint(0, 999)}"
