// Experience replay (Mnih et al. 2015, main text and Methods "Training algorithm for deep Q-networks";
// Algorithm 1: "store transition (φ_t, a_t, r_t, φ_{t+1}) in D", "sample random minibatch of transitions
// from D"): the last N transitions, overwritten oldest first, sampled uniformly, (s, a, r, s') ~ U(D).
// Sampling is with replacement (as Algorithm 1's "random minibatch" is usually read, and as the common
// reference implementations do), so a batch may repeat a transition; from a buffer of 10k it rarely does.

using PaperLab.Training;
using static TorchSharp.torch;

namespace PaperLab.Papers.Dqn;

/// <summary>One stored transition.</summary>
/// <param name="Observation">s (float32).</param>
/// <param name="Action">a.</param>
/// <param name="Reward">r.</param>
/// <param name="NextObservation">s'.</param>
/// <param name="Terminated">s' is terminal (its value is 0); false for a truncated episode's last step.</param>
public sealed record Transition(float[] Observation, int Action, float Reward, float[] NextObservation, bool Terminated);

/// <summary>A minibatch of transitions as tensors (owned by the caller's dispose scope).</summary>
/// <param name="Observations">s: (B, obs) float32.</param>
/// <param name="Actions">a: (B) int64.</param>
/// <param name="Rewards">r: (B) float32.</param>
/// <param name="NextObservations">s': (B, obs) float32.</param>
/// <param name="Terminated">(B) float32, 1 where s' is terminal, else 0.</param>
public sealed record ReplayBatch(Tensor Observations, Tensor Actions, Tensor Rewards, Tensor NextObservations, Tensor Terminated);

/// <summary>
/// A ring buffer of the last <see cref="Capacity"/> transitions with uniform sampling from its own seeded
/// <see cref="SplitMix64"/>. Flat float arrays, not tensors: storing a transition is five array writes.
/// Its contents, position and generator are part of a run's checkpoint (<see cref="ICheckpointState"/>).
/// </summary>
public sealed class ReplayBuffer : ICheckpointState
{
    readonly float[] _observations, _nextObservations, _rewards, _terminated;
    readonly int[] _actions;
    readonly SplitMix64 _rng;

    /// <summary>Most transitions held; the oldest is overwritten beyond it.</summary>
    public int Capacity { get; }
    /// <summary>Length of one observation.</summary>
    public int ObservationSize { get; }
    /// <summary>Transitions held now: min(added, capacity).</summary>
    public int Count { get; private set; }
    /// <summary>Slot the next transition is written to.</summary>
    public int Position { get; private set; }
    /// <summary>The sampling generator's state (to checkpoint it).</summary>
    public ulong RngState { get => _rng.State; set => _rng.State = value; }

    /// <param name="capacity">N: transitions held (Mnih et al.: 1,000,000 frames; CartPole needs ~10k).</param>
    /// <param name="observationSize">Length of one observation (CartPole: 4).</param>
    /// <param name="seed">State of the sampling generator.</param>
    /// <exception cref="ArgumentOutOfRangeException">capacity or observationSize is not positive.</exception>
    public ReplayBuffer(int capacity, int observationSize, ulong seed)
    {
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "the replay buffer must hold at least one transition");
        if (observationSize < 1) throw new ArgumentOutOfRangeException(nameof(observationSize), observationSize, "observations must have at least one component");
        Capacity = capacity;
        ObservationSize = observationSize;
        _observations = new float[capacity * observationSize];
        _nextObservations = new float[capacity * observationSize];
        _rewards = new float[capacity];
        _terminated = new float[capacity];
        _actions = new int[capacity];
        _rng = new SplitMix64(seed);
    }

    /// <summary>Stores (s, a, r, s', terminated) in the next slot, overwriting the oldest when full.</summary>
    /// <exception cref="ArgumentException">An observation does not have <see cref="ObservationSize"/> components.</exception>
    public void Add(float[] observation, int action, double reward, float[] nextObservation, bool terminated)
    {
        if (observation.Length != ObservationSize || nextObservation.Length != ObservationSize)
            throw new ArgumentException($"observations must have {ObservationSize} components, got {observation.Length} and {nextObservation.Length}");
        observation.CopyTo(_observations, Position * ObservationSize);
        nextObservation.CopyTo(_nextObservations, Position * ObservationSize);
        _actions[Position] = action;
        _rewards[Position] = (float)reward;
        _terminated[Position] = terminated ? 1f : 0f;
        Position = (Position + 1) % Capacity;
        Count = Math.Min(Count + 1, Capacity);
    }

    /// <summary>The transition in slot <paramref name="slot"/> (0 ≤ slot &lt; Count).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The slot holds nothing.</exception>
    public Transition this[int slot]
    {
        get
        {
            if (slot < 0 || slot >= Count) throw new ArgumentOutOfRangeException(nameof(slot), slot, $"the buffer holds {Count} transitions");
            return new Transition(_observations.AsSpan(slot * ObservationSize, ObservationSize).ToArray(), _actions[slot], _rewards[slot],
                                  _nextObservations.AsSpan(slot * ObservationSize, ObservationSize).ToArray(), _terminated[slot] != 0);
        }
    }

    /// <summary>Slots of a uniform random minibatch, drawn with replacement from [0, Count).</summary>
    /// <exception cref="InvalidOperationException">The buffer is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException">batchSize is not positive.</exception>
    public int[] SampleSlots(int batchSize)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "a minibatch needs at least one transition");
        if (Count == 0) throw new InvalidOperationException("cannot sample from an empty replay buffer: add transitions first");
        var slots = new int[batchSize];
        for (int i = 0; i < batchSize; i++) slots[i] = _rng.NextInt(Count);
        return slots;
    }

    /// <summary>A uniform random minibatch (<see cref="SampleSlots"/>) as tensors, in the caller's dispose scope.</summary>
    public ReplayBatch Sample(int batchSize) => Gather(SampleSlots(batchSize));

    /// <summary>The transitions in <paramref name="slots"/> as tensors, in the caller's dispose scope.</summary>
    public ReplayBatch Gather(int[] slots)
    {
        int n = slots.Length, d = ObservationSize;
        var s = new float[n * d];
        var s2 = new float[n * d];
        var a = new long[n];
        var r = new float[n];
        var done = new float[n];
        for (int i = 0; i < n; i++)
        {
            int k = slots[i];
            Array.Copy(_observations, k * d, s, i * d, d);
            Array.Copy(_nextObservations, k * d, s2, i * d, d);
            a[i] = _actions[k];
            r[i] = _rewards[k];
            done[i] = _terminated[k];
        }
        return new ReplayBatch(tensor(s, new long[] { n, d }), tensor(a), tensor(r), tensor(s2, new long[] { n, d }), tensor(done));
    }

    /// <summary>Writes the contents, position, count and generator state (for a checkpoint).</summary>
    public void Save(BinaryWriter w)
    {
        w.Write(Capacity); w.Write(ObservationSize); w.Write(Count); w.Write(Position); w.Write(_rng.State);
        int used = Count;   // slots [0, Count) are the filled ones (the ring fills 0, 1, … before wrapping)
        WriteFloats(w, _observations.AsSpan(0, used * ObservationSize));
        WriteFloats(w, _nextObservations.AsSpan(0, used * ObservationSize));
        WriteFloats(w, _rewards.AsSpan(0, used));
        WriteFloats(w, _terminated.AsSpan(0, used));
        for (int i = 0; i < used; i++) w.Write(_actions[i]);
    }

    /// <summary>Restores what <see cref="Save"/> wrote.</summary>
    /// <exception cref="InvalidDataException">The saved buffer has another capacity or observation size.</exception>
    public void Load(BinaryReader r)
    {
        int capacity = r.ReadInt32(), size = r.ReadInt32();
        if (capacity != Capacity || size != ObservationSize)
            throw new InvalidDataException($"the saved replay buffer holds {capacity} transitions of {size} components; this one {Capacity} of {ObservationSize}");
        Count = r.ReadInt32();
        Position = r.ReadInt32();
        _rng.State = r.ReadUInt64();
        ReadFloats(r, _observations.AsSpan(0, Count * ObservationSize));
        ReadFloats(r, _nextObservations.AsSpan(0, Count * ObservationSize));
        ReadFloats(r, _rewards.AsSpan(0, Count));
        ReadFloats(r, _terminated.AsSpan(0, Count));
        for (int i = 0; i < Count; i++) _actions[i] = r.ReadInt32();
    }

    static void WriteFloats(BinaryWriter w, ReadOnlySpan<float> values)
    {
        foreach (float v in values) w.Write(v);
    }

    static void ReadFloats(BinaryReader r, Span<float> values)
    {
        for (int i = 0; i < values.Length; i++) values[i] = r.ReadSingle();
    }
}
