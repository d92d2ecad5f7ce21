#include "engine/tokenizer/tiny_corpus.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace drivelm::engine {
namespace {

// SplitMix64: tiny, fully specified, so the corpus is the same on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform-enough integer in [0, n).
  int Below(int n) { return static_cast<int>(Next() % static_cast<uint64_t>(n)); }
  template <size_t N>
  const char* Pick(const char* const (&items)[N]) {
    return items[Below(static_cast<int>(N))];
  }

 private:
  uint64_t state_;
};

constexpr const char* kCameras[] = {"CAM_FRONT",     "CAM_FRONT_LEFT", "CAM_FRONT_RIGHT",
                                    "CAM_BACK",      "CAM_BACK_LEFT",  "CAM_BACK_RIGHT"};
constexpr const char* kObjects[] = {
    "car",     "truck",   "bus",          "pedestrian",   "bicycle",       "motorcycle",
    "sedan",   "SUV",     "van",          "traffic cone", "barrier",       "trailer",
    "cyclist", "child",   "traffic light", "stop sign",   "construction vehicle", "ambulance"};
constexpr const char* kColors[] = {"white", "black", "red",   "blue",
                                   "silver", "gray", "green", "yellow"};
constexpr const char* kPlaces[] = {"to the front of the ego vehicle",
                                   "to the front left of the ego vehicle",
                                   "to the front right of the ego vehicle",
                                   "to the back of the ego vehicle",
                                   "to the back left of the ego vehicle",
                                   "to the back right of the ego vehicle",
                                   "in the left lane",
                                   "in the right lane",
                                   "on the sidewalk",
                                   "at the intersection",
                                   "near the crosswalk",
                                   "in the parking lot"};
constexpr const char* kStates[] = {"going straight",      "turning left",
                                   "turning right",       "stationary",
                                   "slowing down",        "accelerating",
                                   "changing to the left lane", "changing to the right lane",
                                   "parked on the roadside", "crossing the road",
                                   "waiting at the crosswalk", "reversing slowly"};
constexpr const char* kActions[] = {"keep going at the same speed",
                                    "decelerate gradually without braking",
                                    "brake suddenly",
                                    "turn left",
                                    "turn right",
                                    "change to the left lane",
                                    "change to the right lane",
                                    "stop at the stop line",
                                    "yield to the pedestrian",
                                    "keep a safe distance"};
constexpr const char* kReasons[] = {
    "there is no safety issue",
    "the pedestrian may cross the road",
    "the traffic light is red",
    "the car ahead is slowing down",
    "the lane ahead is blocked by a barrier",
    "a cyclist is riding close to the ego vehicle",
    "the road is wet and visibility is low",
    "the truck is merging into the ego lane"};
constexpr const char* kOptions[] = {"A", "B", "C", "D"};

std::string ObjectRef(Rng& rng) {
  const int c = 1 + rng.Below(9);
  const double x = rng.Below(16000) / 10.0;
  const double y = rng.Below(9000) / 10.0;
  return absl::StrFormat("<c%d,%s,%.1f,%.1f>", c, rng.Pick(kCameras), x, y);
}

std::string Number(Rng& rng) {
  switch (rng.Below(5)) {
    case 0:
      return absl::StrCat(rng.Below(100));
    case 1:
      return absl::StrFormat("%.1f", rng.Below(1000) / 10.0);
    case 2:
      return absl::StrFormat("%.2f", rng.Below(10000) / 100.0);
    case 3:
      return absl::StrCat(rng.Below(2000));
    default:
      return absl::StrCat(rng.Below(10));
  }
}

// Hand-written lines: DriveLM questions, the DriveVLMs prompt, and a few non-ASCII lines.
constexpr const char* kFixedLines[] = {
    "What are the important objects in the current scene? Those objects will be considered for "
    "the future reasoning and driving decision.",
    "What is the priority of the objects that the ego vehicle should consider?(in descending "
    "order)",
    "In this scenario, what are safe actions to take for the ego vehicle?",
    "In this scenario, what are dangerous actions to take for the ego vehicle?",
    "Predict the behavior of the ego vehicle. Please select the correct answer from the "
    "following options: A. The ego vehicle is steering to the left. The ego vehicle is driving "
    "fast. B. The ego vehicle is going straight. The ego vehicle is driving slowly. C. The ego "
    "vehicle is steering to the right. The ego vehicle is driving with normal speed. D. The ego "
    "vehicle is slightly steering to the left. The ego vehicle is driving very fast.",
    "What is the traffic signal that the ego vehicle should pay attention to?",
    "Based on the observations, what actions may the ego vehicle take?",
    "What object should the ego vehicle notice first when the ego vehicle is getting to the "
    "next possible location?",
    "You are an autonomous driving labeler. You have access to six camera images (front, "
    "front-right, front-left, back, back-right, back-left).\nWhat are the important objects in "
    "the current scene?",
    "You are an autonomous driving labeler. You have access to six camera images (front, "
    "front-right, front-left, back, back-right, back-left).\nIn this scenario, what are safe "
    "actions to take for the ego vehicle?",
    "Q: Is it necessary for the ego vehicle to take this object into account?\nA: Yes.",
    "Q: Is there any traffic element in the front view?\nA: No.",
    "The ego vehicle should notice the bus first, then the pedestrian, then the parked car.",
    "The weather is sunny; the road is dry, and the traffic is light.",
    "Rain, fog, night: visibility drops to 50 m or less!",
    "Speed limit 30 km/h -> 8.3 m/s; braking distance ~12 m.",
    "Frame 0042 of scene-0103, timestamp 1533151603547590 us.",
    "Lidar points: 34,720; radar returns: 125; camera resolution 1600x900 pixels.",
    "Image size 224x224 after resizing; scale x by 224/1600 = 0.14 and y by 224/900 = 0.2489.",
    "\"Stop,\" said the officer; the cars waited (about 20 seconds).",
    "Ego speed: 12.5 m/s. Heading: 87.3 deg. Steering: -4.1 deg.",
    "The answer is D.",
    "The answer is B.",
    "No.",
    "Yes.",
    "Going ahead.",
    "Turn left.",
    "Turn right.",
    "Stopped.",
    "Keep going straight, then turn left at the next intersection.",
    "The vehicle ahead → slowing down; gap 15 m → 9 m.",
    "Temperature 21 °C, wind 5 m/s, road surface µ ≈ 0.7.",
    "Fußgänger überquert die Straße vor dem Fahrzeug.",
    "Le piéton traverse la route; la voiture s'arrête.",
    "El coche se detiene en el cruce peatonal.",
    "前方有行人正在过马路，自车应减速让行。",
    "交通信号灯是红色的，自车应该停车。",
    "前の車が減速しています。歩行者に注意してください。",
    "보행자가 횡단보도를 건너고 있습니다.",
    "Emoji status: 🚗 car, 🚶 pedestrian, 🚦 traffic light, ⚠️ warning.",
};

}  // namespace

std::vector<std::string> DefaultTinyCorpus() {
  std::vector<std::string> lines(std::begin(kFixedLines), std::end(kFixedLines));
  Rng rng(0x0D21'7E1Full);
  constexpr int kGeneratedLines = 660;
  for (int i = 0; i < kGeneratedLines; ++i) {
    const std::string ref = ObjectRef(rng);
    switch (i % 11) {
      case 0:
        lines.push_back(absl::StrCat("There is a ", rng.Pick(kColors), " ", rng.Pick(kObjects),
                                     " ", rng.Pick(kPlaces), "."));
        break;
      case 1:
        lines.push_back(absl::StrCat("What is the moving status of object ", ref,
                                     "? Please select the correct answer from the following "
                                     "options: A. Going ahead. B. Turn right. C. Turn left. "
                                     "D. Stopped."));
        break;
      case 2:
        lines.push_back(absl::StrCat("What is the future state of ", ref, "? ",
                                     "The object is ", rng.Pick(kStates), "."));
        break;
      case 3:
        lines.push_back(absl::StrCat("What actions could the ego vehicle take based on ", ref,
                                     "? Why take this action and what's the probability?\n",
                                     "The action is to ", rng.Pick(kActions), ". The reason is ",
                                     rng.Pick(kReasons), ", probability ", rng.Below(101),
                                     "%."));
        break;
      case 4:
        lines.push_back(absl::StrCat("Q: Would ", ref,
                                     " be in the moving direction of the ego vehicle? A: ",
                                     rng.Below(2) == 0 ? "Yes." : "No."));
        break;
      case 5:
        lines.push_back(absl::StrCat("The ", rng.Pick(kColors), " ", rng.Pick(kObjects), " ",
                                     ref, " is ", rng.Pick(kStates), " at ", Number(rng),
                                     " m/s, ", Number(rng), " meters away."));
        break;
      case 6:
        lines.push_back(absl::StrCat("Is ", ref, " a traffic sign or a road barrier? The answer "
                                     "is ", rng.Pick(kOptions), "."));
        break;
      case 7:
        lines.push_back(absl::StrCat("In this scenario, the ego vehicle should ",
                                     rng.Pick(kActions), ", because ", rng.Pick(kReasons),
                                     "; the ", rng.Pick(kObjects), " ", ref, " is ",
                                     rng.Pick(kPlaces), "."));
        break;
      case 8:
        lines.push_back(absl::StrCat("The important objects are: ", ref, ", ", ObjectRef(rng),
                                     " and ", ObjectRef(rng), "; the ", rng.Pick(kObjects),
                                     " is ", rng.Pick(kPlaces), "."));
        break;
      case 9:
        lines.push_back(absl::StrCat("Camera ", rng.Pick(kCameras), " sees ", rng.Below(12),
                                     " objects; the nearest ", rng.Pick(kObjects), " is at (",
                                     Number(rng), ", ", Number(rng), ") in the 1600x900 image."));
        break;
      default:
        lines.push_back(absl::StrCat("Ego vehicle: speed ", Number(rng), " km/h, acceleration ",
                                     Number(rng), " m/s^2, yaw rate ", Number(rng),
                                     " rad/s; next waypoint (", Number(rng), ", ", Number(rng),
                                     ")."));
        break;
    }
  }
  return lines;
}

}  // namespace drivelm::engine
