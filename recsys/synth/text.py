"""Post text: circle-specific vocabulary mixed with generic words, built with Arrow (no loops).

Each circle's vocabulary is its category names, the words of its English name and, for the
platform's circles, a short list of typical words. A catalogue with other circles still gets a
vocabulary of its own (category and name words plus `<circle_id>_<k>` tokens), so nothing assumes
21 circles.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recsys.circles import CircleCatalogue

GENERIC_WORDS: tuple[str, ...] = (
    "love", "great", "bought", "again", "recommend", "quality", "price", "worth", "fast",
    "delivery", "friends", "today", "finally", "nice", "really", "good", "deal", "so", "happy",
    "try", "new", "order", "review", "sharing", "value", "cheap", "okay", "package", "arrived",
    "second", "time", "family", "shop", "store", "week",
)  # fmt: skip

CIRCLE_WORDS: dict[str, tuple[str, ...]] = {
    "beauty": ("lipstick", "serum", "moisturizer", "foundation", "toner", "sunscreen", "mascara",
               "glow", "pores", "hydrating", "shade", "perfume"),
    "mother_baby": ("baby", "toddler", "formula", "stroller", "newborn", "nursing", "diaper",
                    "teething", "pregnancy", "crib", "mom", "kids"),
    "digital": ("phone", "charger", "bluetooth", "battery", "screen", "earbuds", "smartwatch",
                "usb", "case", "noise_cancelling", "specs", "android"),
    "sports": ("gym", "workout", "yoga", "running", "dumbbell", "protein", "cardio", "leggings",
               "marathon", "stretch", "sneakers", "fitness"),
    "fashion": ("outfit", "dress", "jacket", "jeans", "style", "trendy", "coat", "skirt",
                "handbag", "fit", "size", "look"),
    "snacks": ("chips", "spicy", "crispy", "sweet", "noodles", "tea_drink", "cookies", "jerky",
               "tasty", "flavor", "snack", "yummy"),
    "fresh": ("mango", "cherries", "durian", "shrimp", "beef", "organic", "juicy", "farm",
              "ripe", "vegetable", "seafood", "fresh"),
    "home": ("sheets", "pillow", "storage_box", "mop", "towel", "cozy", "organizer", "pan",
             "curtain", "declutter", "cleaning", "room"),
    "appliances": ("air_fryer", "blender", "vacuum", "rice_cooker", "washer", "fridge",
                   "kettle", "dehumidifier", "watts", "energy", "appliance", "install"),
    "pets": ("cat", "dog", "kibble", "litter", "puppy", "kitten", "leash", "treats", "vet",
             "paws", "grooming", "pet"),
    "health": ("vitamin", "collagen", "probiotics", "massage", "goji", "herbal", "sleep",
               "immunity", "wellness", "blood_pressure", "ginseng", "health"),
    "outdoor": ("tent", "camping", "hiking", "fishing_rod", "bike", "campfire", "backpack",
                "trail", "lantern", "picnic", "outdoors", "gear"),
    "travel": ("suitcase", "trip", "hotel", "passport", "carry_on", "itinerary", "airport",
               "neck_pillow", "vacation", "luggage", "journey", "travel"),
    "gaming": ("console", "controller", "anime", "figure", "cosplay", "switch", "rpg",
               "gacha", "boss", "level", "gamer", "collectible"),
    "books": ("novel", "notebook", "pen", "course", "reading", "author", "chapter", "exam",
              "study", "library", "stationery", "ebook"),
    "cars": ("car", "wax", "dashcam", "tires", "seat_cover", "detailing", "engine", "drive",
             "parking", "polish", "mount", "road"),
    "photography": ("camera", "lens", "tripod", "shutter", "aperture", "mirrorless", "portrait",
                    "sensor", "bokeh", "filter", "shot", "photo"),
    "music": ("guitar", "piano", "ukulele", "speaker", "headphones", "amp", "chords", "strings",
              "vinyl", "melody", "audio", "music"),
    "crafts": ("yarn", "knitting", "drill", "glue", "diy", "sewing", "paint", "handmade",
               "woodwork", "beads", "craft", "tools"),
    "garden": ("succulent", "seeds", "soil", "pot", "bloom", "watering", "fertilizer", "bonsai",
               "balcony", "plant", "garden", "leaves"),
    "jewelry": ("necklace", "ring", "earrings", "bracelet", "gold", "silver", "pearl", "watch",
                "gemstone", "pendant", "sparkle", "jewelry"),
}  # fmt: skip

_MIN_CIRCLE_WORDS = 12


def circle_vocabularies(catalogue: CircleCatalogue) -> list[list[str]]:
    """One list of distinct words per circle, in catalogue order (disjoint from GENERIC_WORDS)."""
    generic = set(GENERIC_WORDS)
    vocabs = []
    for circle in catalogue.circles:
        words: list[str] = []
        words += list(CIRCLE_WORDS.get(circle.circle_id, ()))
        words += list(circle.categories)
        words += [w for w in re.split(r"[^a-z0-9]+", circle.name_en.lower()) if len(w) > 2]
        k = 0
        while len(dict.fromkeys(words)) < _MIN_CIRCLE_WORDS:
            words.append(f"{circle.circle_id}_{k}")
            k += 1
        vocabs.append([w for w in dict.fromkeys(words) if w not in generic])
    return vocabs


class TextMaker:
    """Makes post texts for arrays of circle indices (vectorised)."""

    def __init__(self, catalogue: CircleCatalogue, mean_words: int, circle_share: float) -> None:
        vocabs = circle_vocabularies(catalogue)
        self.mean_words = mean_words
        self.circle_share = circle_share
        self.generic_n = len(GENERIC_WORDS)
        self.sizes = np.array([len(v) for v in vocabs], dtype=np.int64)
        self.offsets = self.generic_n + np.concatenate([[0], np.cumsum(self.sizes)[:-1]])
        self.words = pa.array(list(GENERIC_WORDS) + [w for v in vocabs for w in v])

    def make(self, circles: np.ndarray, rng: np.random.Generator) -> pa.Array:
        """A text per entry of `circles` (dense circle indices)."""
        n = len(circles)
        if n == 0:
            return pa.array([], pa.string())
        lengths = np.maximum(3, rng.poisson(self.mean_words, n)).astype(np.int64)
        total = int(lengths.sum())
        owner = np.repeat(circles.astype(np.int64), lengths)
        from_circle = rng.random(total) < self.circle_share
        u = rng.random(total)
        word = np.where(
            from_circle,
            self.offsets[owner] + (u * self.sizes[owner]).astype(np.int64),
            (u * self.generic_n).astype(np.int64),
        )
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
        tokens = self.words.take(pa.array(word))
        return pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), tokens), " ")
